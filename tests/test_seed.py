"""Loading the hospital file: idempotent, updates by code, and clear about mistakes."""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path
from typing import Any, Self

import pytest
import yaml
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.hospital.models import Exam, OpeningHours, Practitioner, Service, Site
from bot.hospital.schemas import SPECIALTIES
from bot.hospital.seed import DEFAULT_PATH, SeedError, read_hospital, seed

pytest_plugins = ("tests.hospital_db",)  # fixtures: hospital_db (an empty database), seed_hospital
Sessions = async_sessionmaker[AsyncSession]

# Async tests share the session's event loop, like the app's own tests (pyproject.toml).
on_loop = pytest.mark.asyncio(loop_scope="session")


@functools.cache
def _demo_text() -> str:
    return DEFAULT_PATH.read_text(encoding="utf-8")


def demo_data() -> dict[str, Any]:
    """The demo file as data, to be changed by a test."""
    return yaml.load(_demo_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def service_data(data: dict[str, Any], code: str) -> dict[str, Any]:
    return next(s for s in data["services"] if s["code"] == code)


def write(tmp_path: Path, data: dict[str, Any], name: str = "hospital.yml") -> Path:
    path = tmp_path / name
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def row_counts(sessions: Sessions) -> dict[str, int]:
    async with sessions() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model))
            for model in (Site, Service, OpeningHours, Practitioner, Exam)
        }


class WriteCounter:
    """Counts the INSERT, UPDATE and DELETE statements an engine runs."""

    def __init__(self, sessions: Sessions) -> None:
        self.engine = sessions.kw["bind"].sync_engine
        self.statements: list[str] = []

    def __enter__(self) -> Self:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, _conn, _cursor, statement: str, *_args) -> None:
        if re.match(r"\s*(INSERT|UPDATE|DELETE)", statement, re.IGNORECASE):
            self.statements.append(statement.split()[0].upper())


# ---------------------------------------------------------------- the demo hospital


@on_loop
async def test_the_demo_hospital_is_loaded(hospital_db: Sessions, seed_hospital) -> None:
    report = await seed_hospital(hospital_db)
    counts = await row_counts(hospital_db)
    spec = read_hospital()
    assert counts["sites"] == 1 and report.created["site"] == 1
    assert counts["services"] == len(spec.services) == report.created["service"] >= 14
    assert counts["practitioners"] == sum(len(s.practitioners) for s in spec.services) == report.created["practitioner"]
    assert counts["exams"] == sum(len(s.exams) for s in spec.services) == report.created["exam"]
    assert counts["opening_hours"] == sum(len(s.hours) for s in spec.services)
    assert report.changed and "20 services" in str(report)


@on_loop
async def test_seeding_twice_writes_nothing_and_duplicates_nothing(hospital_db: Sessions, seed_hospital) -> None:
    await seed_hospital(hospital_db)
    before = await row_counts(hospital_db)
    with WriteCounter(hospital_db) as writes:
        report = await seed_hospital(hospital_db)
    assert writes.statements == []
    assert not report.changed
    assert report.unchanged["service"] == before["services"]
    assert await row_counts(hospital_db) == before


@on_loop
async def test_a_changed_file_updates_rows_by_code(hospital_db: Sessions, seed_hospital, tmp_path: Path) -> None:
    await seed_hospital(hospital_db)
    async with hospital_db() as session:
        cardiology_id = await session.scalar(select(Service.id).where(Service.code == "cardiologie"))
        echo_id = await session.scalar(select(Exam.id).where(Exam.code == "echographie-cardiaque"))

    data = demo_data()
    cardiology = service_data(data, "cardiologie")
    cardiology["phone"] = "02 61 91 42 99"
    cardiology["hours"] = {"mon-thu": ["08:00-12:00", "14:00-18:00"], "fri": ["08:00-12:00"]}
    cardiology["practitioners"] = [
        *cardiology["practitioners"][1:],
        {"title": "Dr", "first_name": "Jeanne", "last_name": "Aubry", "role": {"fr": "Cardiologue", "en": "Cardiologist"}},
    ]
    # The cardiac ultrasound moves to radiology with a new English name.
    exam = cardiology["exams"].pop(0)
    exam["name"]["en"] = "Heart ultrasound"
    service_data(data, "radiologie")["exams"].append(exam)
    report = await seed_hospital(hospital_db, write(tmp_path, data))

    assert report.updated["service"] == 1 and report.updated["opening hours"] == 1
    assert report.created["practitioner"] == 1 and report.removed["practitioner"] == 1
    assert report.updated["exam"] == 1 and report.created["exam"] == 0 and report.removed["exam"] == 0
    async with hospital_db() as session:
        service = await session.scalar(select(Service).where(Service.code == "cardiologie"))
        assert service.id == cardiology_id and service.phone == "02 61 91 42 99"
        hours = (await session.execute(
            select(OpeningHours.weekday, OpeningHours.opens, OpeningHours.closes)
            .where(OpeningHours.service_id == cardiology_id).order_by(OpeningHours.weekday, OpeningHours.opens)
        )).all()
        assert [(d, o.strftime("%H:%M"), c.strftime("%H:%M")) for d, o, c in hours] == [
            (0, "08:00", "12:00"), (0, "14:00", "18:00"), (1, "08:00", "12:00"), (1, "14:00", "18:00"),
            (2, "08:00", "12:00"), (2, "14:00", "18:00"), (3, "08:00", "12:00"), (3, "14:00", "18:00"),
            (4, "08:00", "12:00"),
        ]
        names = set(await session.scalars(select(Practitioner.last_name).where(Practitioner.service_id == cardiology_id)))
        assert "Aubry" in names and "Ferrand" not in names
        moved = await session.scalar(select(Exam).where(Exam.code == "echographie-cardiaque"))
        radiology_id = await session.scalar(select(Service.id).where(Service.code == "radiologie"))
        assert moved.id == echo_id and moved.service_id == radiology_id and moved.name["en"] == "Heart ultrasound"
    # And the edited file is now the steady state.
    assert not (await seed_hospital(hospital_db, write(tmp_path, data))).changed


@on_loop
async def test_a_new_service_is_added_and_a_removed_one_kept_unless_pruned(
    hospital_db: Sessions, seed_hospital, tmp_path: Path
) -> None:
    await seed_hospital(hospital_db)
    data = demo_data()
    data["services"] = [s for s in data["services"] if s["code"] != "dermatologie"]
    extra = copy.deepcopy(service_data(data, "orl"))
    extra.update(code="stomatologie", name={"fr": "Stomatologie", "en": "Oral surgery"}, aliases={"fr": ["stomato"]},
                 exams=[], specialty="ent")
    data["services"].append(extra)
    path = write(tmp_path, data)

    report = await seed_hospital(hospital_db, path)
    assert report.created["service"] == 1 and report.not_in_file == ["dermatologie"]
    assert "not in the file, kept: dermatologie" in str(report)
    async with hospital_db() as session:
        assert await session.scalar(select(Service.id).where(Service.code == "dermatologie"))

    report = await seed_hospital(hospital_db, path, prune=True)
    assert report.removed["service"] == 1
    async with hospital_db() as session:
        assert await session.scalar(select(Service.id).where(Service.code == "dermatologie")) is None
        assert await session.scalar(
            select(func.count()).select_from(Practitioner).where(Practitioner.last_name == "Caron")) == 0


@on_loop
async def test_seed_flushes_but_leaves_the_transaction_to_the_caller(hospital_db: Sessions) -> None:
    async with hospital_db() as session:
        await seed(session)
        assert await session.scalar(select(func.count()).select_from(Service)) > 0
        await session.rollback()
    assert (await row_counts(hospital_db))["services"] == 0


# ---------------------------------------------------------------- mistakes in the file


def _break(change):
    """A copy of the demo data with one mistake made by `change(data)`."""
    data = demo_data()
    change(data)
    return data


MISTAKES = [
    # (what is wrong, change, words the error must contain)
    ("unknown weekday", lambda d: service_data(d, "cardiologie").update(hours={"lun-fri": ["08:30-12:30"]}),
     ["'cardiologie'", "hours.lun-fri", "unknown weekday"]),
    ("misspelled weekday", lambda d: service_data(d, "radiologie")["hours"].update(sunday=["09:00-12:00"]),
     ["'radiologie'", "hours.sunday", "unknown weekday"]),
    ("French-style time", lambda d: service_data(d, "cardiologie").update(hours={"mon-fri": ["8h30-12h30"]}),
     ["'cardiologie'", "hours.mon-fri", "'8h30-12h30'", "HH:MM-HH:MM"]),
    ("impossible time", lambda d: service_data(d, "dermatologie").update(hours={"mon": ["08:30-25:00"]}),
     ["'dermatologie'", "hours.mon", "not a time of day"]),
    ("closes before it opens", lambda d: service_data(d, "orl").update(hours={"fri": ["18:00-09:00"]}),
     ["'orl'", "hours.fri", "closes before it opens"]),
    ("overlapping intervals", lambda d: service_data(d, "orl").update(hours={"fri": ["09:00-13:00", "12:00-17:00"]}),
     ["'orl'", "hours.fri", "overlap"]),
    ("day given twice", lambda d: service_data(d, "orl").update(hours={"mon-fri": ["09:00-12:00"], "wed": ["14:00-16:00"]}),
     ["'orl'", "hours.wed", "already given"]),
    ("no hours at all", lambda d: service_data(d, "urologie").pop("hours"),
     ["'urologie'", "'hours'", "missing"]),
    ("hours and 24/7", lambda d: service_data(d, "urgences").update(hours={"mon": ["08:00-12:00"]}),
     ["'urgences'", "not both"]),
    ("missing English name", lambda d: service_data(d, "maternite")["name"].pop("en"),
     ["'maternite'", "'name'", "English"]),
    ("missing French description", lambda d: service_data(d, "pediatrie")["description"].pop("fr"),
     ["'pediatrie'", "'description'", "French"]),
    ("empty French location", lambda d: service_data(d, "neurologie")["location"].update(fr="  "),
     ["'neurologie'", "location.fr", "missing text"]),
    ("exam preparation without English", lambda d: service_data(d, "radiologie")["exams"][0]["preparation"].pop("en"),
     ["'radiologie'", "exam 'irm'", "'preparation'", "English"]),
    ("unknown specialty", lambda d: service_data(d, "oncologie").update(specialty="cancerology"),
     ["'oncologie'", "'specialty'", "'cancerology'"]),
    ("misspelled field", lambda d: service_data(d, "oncologie").update(adress="somewhere"),
     ["'oncologie'", "unknown field 'adress'"]),
    ("duplicate service code", lambda d: d["services"].append(copy.deepcopy(service_data(d, "orl"))),
     ["service code 'orl' appears twice"]),
    ("duplicate exam code", lambda d: service_data(d, "urologie")["exams"].append(
        copy.deepcopy(service_data(d, "radiologie")["exams"][0])), ["exam code 'irm' appears twice"]),
    ("bad service code", lambda d: service_data(d, "orl").update(code="O.R.L."), ["'O.R.L.'", "not a code"]),
    ("site without switchboard", lambda d: d["site"].pop("switchboard_phone"), ["site", "switchboard_phone", "missing"]),
    ("flag that is not a flag", lambda d: service_data(d, "urgences").update(open_all_hours="yes"),
     ["'urgences'", "open_all_hours", "true or false"]),
    # The file as a whole
    ("unknown top-level field", lambda d: d.update(hopital="x"), ["unknown field 'hopital'"]),
    ("unsupported version", lambda d: d.update(version=2), ["'version'", "2 is not supported"]),
    ("no services", lambda d: d.update(services=[]), ["'services'", "must not be empty"]),
    ("service that is not a mapping", lambda d: d["services"].append("orl"), ["service #21", "mapping of fields"]),
    # The site
    ("site that is not a mapping", lambda d: d.update(site="CH Valmont"), ["site", "mapping of fields"]),
    ("misspelled site field", lambda d: d["site"].update(adress="x"), ["site", "unknown field 'adress'"]),
    ("bad site code", lambda d: d["site"].update(code="CH"), ["site", "'CH'", "not a code"]),
    ("site name too long", lambda d: d["site"].update(name="x" * 201), ["site", "'name'", "longer than 200"]),
    ("latitude that is not a number", lambda d: d["site"].update(latitude="47.3"), ["site", "latitude", "number"]),
    ("blank emergency number", lambda d: d["site"].update(emergency_phone=" "), ["site", "emergency_phone", "missing"]),
    ("site access without English", lambda d: d["site"]["access"].pop("en"), ["site", "'access'", "English"]),
    # Services
    ("code too long", lambda d: service_data(d, "orl").update(code="o" * 41), ["'code'", "not a code"]),
    ("blank phone", lambda d: service_data(d, "orl").update(phone="  "), ["'orl'", "'phone'", "missing"]),
    ("phone too long", lambda d: service_data(d, "orl").update(phone="0" * 41), ["'orl'", "'phone'", "longer than 40"]),
    ("building that is not text", lambda d: service_data(d, "orl").update(building=None),
     ["'orl'", "'building'", "expected text"]),
    ("floor in YAML binary", lambda d: service_data(d, "orl").update(floor=b"2"), ["'orl'", "'floor'", "expected text"]),
    ("appointments flag that is not a flag", lambda d: service_data(d, "orl").update(accepts_appointments=1),
     ["'orl'", "accepts_appointments", "true or false"]),
    ("name that is not per language", lambda d: service_data(d, "orl").update(name="ORL"),
     ["'orl'", "'name'", "mapping"]),
    ("language code in capitals", lambda d: service_data(d, "orl")["name"].update(FR="ORL"),
     ["'orl'", "name.FR", "not a language code"]),
    ("optional text given empty", lambda d: service_data(d, "orl").update(visiting_hours={}),
     ["'orl'", "'visiting_hours'", "French"]),
    ("optional text in French only", lambda d: service_data(d, "orl").update(what_to_bring={"fr": "Votre carte."}),
     ["'orl'", "'what_to_bring'", "English"]),
    ("aliases that are not a list", lambda d: service_data(d, "orl")["aliases"].update(fr="orl"),
     ["'orl'", "aliases.fr", "list"]),
    ("blank alias", lambda d: service_data(d, "orl")["aliases"]["fr"].append(" "), ["'orl'", "aliases.fr", "missing text"]),
    # Opening hours
    ("range that goes backwards", lambda d: service_data(d, "orl").update(hours={"fri-mon": ["09:00-12:00"]}),
     ["'orl'", "hours.fri-mon", "backwards"]),
    ("day without intervals", lambda d: service_data(d, "orl").update(hours={"fri": []}),
     ["'orl'", "hours.fri", "leave a closed day out"]),
    ("impossible minutes", lambda d: service_data(d, "orl").update(hours={"fri": ["09:60-12:00"]}),
     ["'orl'", "hours.fri", "not a time of day"]),
    # Practitioners
    ("practitioners that are not a list", lambda d: service_data(d, "orl").update(practitioners={"title": "Dr"}),
     ["'orl'", "'practitioners'", "list"]),
    ("misspelled practitioner field", lambda d: service_data(d, "orl")["practitioners"][0].update(email="x"),
     ["'orl'", "practitioner #1", "unknown field 'email'"]),
    ("practitioner without title", lambda d: service_data(d, "orl")["practitioners"][0].pop("title"),
     ["'orl'", "practitioner #1", "'title'", "missing"]),
    ("blank last name", lambda d: service_data(d, "orl")["practitioners"][1].update(last_name=" "),
     ["'orl'", "practitioner #2", "'last_name'", "missing"]),
    ("practitioner listed twice", lambda d: service_data(d, "orl")["practitioners"].append(
        copy.deepcopy(service_data(d, "orl")["practitioners"][0])), ["'orl'", "practitioner '", "appears twice"]),
    ("role without English", lambda d: service_data(d, "orl")["practitioners"][0]["role"].pop("en"),
     ["'orl'", "practitioner #1", "'role'", "English"]),
    # Exams
    ("bad exam code", lambda d: service_data(d, "radiologie")["exams"][0].update(code="IRM"),
     ["'radiologie'", "exam 'IRM'", "not a code"]),
    ("misspelled exam field", lambda d: service_data(d, "radiologie")["exams"][0].update(duration=30),
     ["'radiologie'", "exam 'irm'", "unknown field 'duration'"]),
]


@on_loop
@pytest.mark.parametrize(("mistake", "change", "expected"), MISTAKES, ids=[m[0] for m in MISTAKES])
async def test_a_mistake_in_the_file_is_named_and_nothing_is_written(
    hospital_db: Sessions, seed_hospital, tmp_path: Path, mistake: str, change, expected: list[str]
) -> None:
    path = write(tmp_path, _break(change))
    with pytest.raises(SeedError) as error:
        await seed_hospital(hospital_db, path)
    message = str(error.value)
    assert message.startswith("hospital.yml: ")
    for words in expected:
        assert words in message, f"{words!r} not in {message!r}"
    assert set((await row_counts(hospital_db)).values()) == {0}


def test_an_unreadable_or_malformed_file_is_a_seed_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read"):
        read_hospital(tmp_path / "missing.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("site: [unclosed\n", encoding="utf-8")
    with pytest.raises(SeedError, match="not valid YAML"):
        read_hospital(broken)


def test_a_file_that_is_not_a_mapping_is_a_seed_error(tmp_path: Path) -> None:
    path = tmp_path / "hospital.yml"
    path.write_text("- site\n- services\n", encoding="utf-8")
    with pytest.raises(SeedError, match=r"^hospital\.yml: expected a mapping of fields"):
        read_hospital(path)


def test_every_mistake_is_named_at_once(tmp_path: Path) -> None:
    data = demo_data()
    service_data(data, "orl")["phone"] = ""
    service_data(data, "urologie")["specialty"] = "nephrology"
    with pytest.raises(SeedError) as error:
        read_hospital(write(tmp_path, data))
    lines = str(error.value).splitlines()
    assert len(lines) == 2 and all(line.startswith("hospital.yml: ") for line in lines)
    assert "'orl', field 'phone': missing" in lines[0] and "'urologie', field 'specialty'" in lines[1]


def test_the_file_may_leave_out_what_is_optional_and_write_numbers_as_numbers(tmp_path: Path) -> None:
    data = demo_data()
    data["site"].pop("emergency_phone")
    orl = service_data(data, "orl")
    orl.update(floor=3, visiting_hours=None, building=" C ")
    orl["aliases"]["fr"] = ["oto", "oto", "  nez   gorge  "]
    orl["description"]["fr"] = "Oreilles,\n   nez et gorge."
    for optional in ("what_to_bring", "practitioners", "exams", "accepts_appointments"):
        orl.pop(optional, None)
    hospital = read_hospital(write(tmp_path, data))
    spec = next(s for s in hospital.services if s.code == "orl")
    assert hospital.site.emergency_phone == "15"
    assert (spec.floor, spec.building, spec.visiting_hours, spec.what_to_bring) == ("3", "C", {}, {})
    assert (spec.practitioners, spec.exams, spec.accepts_appointments) == ((), (), True)
    assert spec.aliases["fr"] == ("oto", "nez gorge")
    assert spec.description["fr"] == "Oreilles, nez et gorge."


def test_hours_accept_ranges_single_strings_and_midnight(tmp_path: Path) -> None:
    data = demo_data()
    service_data(data, "cardiologie")["hours"] = {"mon-wed": "08:00-12:00", "sat": ["20:00-24:00"]}
    spec = next(s for s in read_hospital(write(tmp_path, data)).services if s.code == "cardiologie")
    assert [(s.weekday, s.opens.strftime("%H:%M"), s.closes.strftime("%H:%M")) for s in spec.hours] == [
        (0, "08:00", "12:00"), (1, "08:00", "12:00"), (2, "08:00", "12:00"), (5, "20:00", "23:59")]


# ---------------------------------------------------------------- what the demo file promises


def test_the_demo_file_covers_every_specialty_triage_routes_to() -> None:
    from bot.triage import SERVICES

    spec = read_hospital()
    assert SERVICES <= SPECIALTIES
    assert {s.specialty for s in spec.services} >= SERVICES
    for specialty in ("emergency", "paediatric_emergency", "maternity"):
        assert all(s.open_all_hours for s in spec.services if s.specialty == specialty)
    assert all(not s.accepts_appointments for s in spec.services if "emergency" in s.specialty)


def test_the_demo_file_is_complete_in_both_languages_and_fictional() -> None:
    spec = read_hospital()
    assert spec.site.switchboard_phone.startswith("02 61 91")  # ARCEP's block reserved for fiction
    for service in spec.services:
        assert re.fullmatch(r"02 61 91 \d\d \d\d", service.phone), service.code
        assert 1 <= len(service.practitioners) <= 4, service.code
        assert service.building and service.floor, service.code
        assert service.aliases.get("fr") and service.aliases.get("en"), service.code
        for exam in service.exams:
            assert len(exam.preparation["fr"]) > 150 and len(exam.preparation["en"]) > 150, exam.code
    french = " ".join(s.description["fr"] + s.location["fr"] for s in spec.services)
    assert {"é", "è", "à", "ô"} <= set(french)  # accents where French needs them
    exams = {e.code for s in spec.services for e in s.exams}
    assert {"irm", "scanner", "echographie", "radiographie", "coloscopie", "gastroscopie", "prise-de-sang",
            "echographie-cardiaque", "epreuve-d-effort", "eeg", "mammographie", "fond-d-oeil"} <= exams
