"""Loads the hospital described in bot/hospital/data/hospital.yml into the database.

Idempotent: rows are matched by their codes (site, service, exam) or names (practitioners), only
what differs is written, so running it at every `make run` changes nothing once the data is in,
and an edited file updates the rows it names. The file is checked whole before anything is
written; a mistake raises `SeedError` naming the service and the field.

The caller owns the transaction (`async with session_scope() as session: await seed(session)`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.hospital import directory
from bot.hospital.directory import END_OF_DAY
from bot.hospital.models import Exam, OpeningHours, Practitioner, Service, Site

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "hospital.yml"
REQUIRED_LANGUAGES = ("fr", "en")
# The specialties triage routes patients to (bot.triage.SERVICES), by which orientation finds a
# service, plus two that patients ask about but triage never sends them to directly.
TRIAGE_SPECIALTIES = frozenset(
    "general_medicine cardiology paediatrics maternity gynaecology gastroenterology dermatology "
    "ophthalmology ent orthopaedics neurology psychiatry radiology oncology pulmonology urology "
    "emergency paediatric_emergency".split()
)
SPECIALTIES = TRIAGE_SPECIALTIES | {"laboratory", "intensive_care"}
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# libyaml's loader when present: the file is read at every `make run`, and it is ten times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*$")

SITE_FIELDS = {"code", "name", "address", "switchboard_phone", "emergency_phone", "access", "visiting_hours",
               "what_to_bring", "latitude", "longitude"}
SERVICE_FIELDS = {"code", "specialty", "name", "aliases", "description", "building", "floor", "location", "phone",
                  "open_all_hours", "hours", "what_to_bring", "visiting_hours", "accepts_appointments",
                  "practitioners", "exams"}
PRACTITIONER_FIELDS = {"title", "first_name", "last_name", "role"}
EXAM_FIELDS = {"code", "name", "aliases", "preparation"}


class SeedError(ValueError):
    """The hospital file is wrong; the message says where."""


# ---------------------------------------------------------------- the file, checked


@dataclass(frozen=True)
class PractitionerSpec:
    title: str
    first_name: str
    last_name: str
    role: dict[str, str]


@dataclass(frozen=True)
class ExamSpec:
    code: str
    name: dict[str, str]
    aliases: dict[str, list[str]]
    preparation: dict[str, str]


@dataclass(frozen=True)
class ServiceSpec:
    code: str
    specialty: str
    name: dict[str, str]
    aliases: dict[str, list[str]]
    description: dict[str, str]
    building: str
    floor: str
    location: dict[str, str]
    phone: str
    open_all_hours: bool
    hours: tuple[tuple[int, time, time], ...]  # (weekday, opens, closes), sorted
    what_to_bring: dict[str, str]
    visiting_hours: dict[str, str]
    accepts_appointments: bool
    practitioners: tuple[PractitionerSpec, ...]
    exams: tuple[ExamSpec, ...]


@dataclass(frozen=True)
class SiteSpec:
    code: str
    name: str
    address: str
    switchboard_phone: str
    emergency_phone: str
    access: dict[str, str]
    visiting_hours: dict[str, str]
    what_to_bring: dict[str, str]
    latitude: float | None
    longitude: float | None


@dataclass(frozen=True)
class HospitalSpec:
    site: SiteSpec
    services: tuple[ServiceSpec, ...]


def read_hospital(path: Path | str = DEFAULT_PATH) -> HospitalSpec:
    """Parse and check the hospital file; nothing touches the database."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
    except OSError as error:
        raise SeedError(f"cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise SeedError(f"{path.name} is not valid YAML: {error}") from error
    try:
        return _hospital(raw)
    except SeedError as error:
        raise SeedError(f"{path.name}: {error}") from None


def _hospital(raw: Any) -> HospitalSpec:
    _mapping(raw, "the file")
    _known_fields(raw, {"version", "site", "services"}, "the file")
    if raw.get("version", 1) != 1:
        raise SeedError(f"version {raw['version']!r} is not supported (expected 1)")
    site = _site(raw.get("site"))
    services_raw = raw.get("services")
    if not isinstance(services_raw, list) or not services_raw:
        raise SeedError("`services` must be a non-empty list")
    services = tuple(_service(item, index) for index, item in enumerate(services_raw))
    _unique([s.code for s in services], "service code")
    _unique([e.code for s in services for e in s.exams], "exam code")
    return HospitalSpec(site, services)


def _site(raw: Any) -> SiteSpec:
    where = "site"
    _mapping(raw, where)
    _known_fields(raw, SITE_FIELDS, where)
    return SiteSpec(
        code=_code(raw.get("code"), f"{where}, field 'code'"),
        name=_text(raw.get("name"), f"{where}, field 'name'", 200),
        address=_text(raw.get("address"), f"{where}, field 'address'", 300),
        switchboard_phone=_text(raw.get("switchboard_phone"), f"{where}, field 'switchboard_phone'", 40),
        emergency_phone=_text(raw.get("emergency_phone", "15"), f"{where}, field 'emergency_phone'", 40),
        access=_localized(raw.get("access"), where, "access"),
        visiting_hours=_localized(raw.get("visiting_hours"), where, "visiting_hours"),
        what_to_bring=_localized(raw.get("what_to_bring"), where, "what_to_bring"),
        latitude=_coordinate(raw.get("latitude"), f"{where}, field 'latitude'"),
        longitude=_coordinate(raw.get("longitude"), f"{where}, field 'longitude'"),
    )


def _service(raw: Any, index: int) -> ServiceSpec:
    _mapping(raw, f"service #{index + 1}")
    code = _code(raw.get("code"), f"service #{index + 1}, field 'code'")
    where = f"service {code!r}"
    _known_fields(raw, SERVICE_FIELDS, where)
    specialty = raw.get("specialty")
    if specialty not in SPECIALTIES:
        raise SeedError(f"{where}, field 'specialty': {specialty!r} is not one of {', '.join(sorted(SPECIALTIES))}")
    open_all_hours = _flag(raw.get("open_all_hours", False), f"{where}, field 'open_all_hours'")
    hours = _hours(raw.get("hours"), where)
    if open_all_hours and hours:
        raise SeedError(f"{where}, field 'hours': give either `hours` or `open_all_hours: true`, not both")
    if not open_all_hours and not hours:
        raise SeedError(f"{where}, field 'hours': missing (or set `open_all_hours: true`)")
    return ServiceSpec(
        code=code,
        specialty=specialty,
        name=_localized(raw.get("name"), where, "name"),
        aliases=_aliases(raw.get("aliases"), where),
        description=_localized(raw.get("description"), where, "description"),
        building=_text(raw.get("building", ""), f"{where}, field 'building'", 80, required=False),
        floor=_text(raw.get("floor", ""), f"{where}, field 'floor'", 40, required=False),
        location=_localized(raw.get("location"), where, "location"),
        phone=_text(raw.get("phone"), f"{where}, field 'phone'", 40),
        open_all_hours=open_all_hours,
        hours=hours,
        what_to_bring=_localized(raw.get("what_to_bring"), where, "what_to_bring", required=False),
        visiting_hours=_localized(raw.get("visiting_hours"), where, "visiting_hours", required=False),
        accepts_appointments=_flag(raw.get("accepts_appointments", True), f"{where}, field 'accepts_appointments'"),
        practitioners=_practitioners(raw.get("practitioners", []), where),
        exams=_exams(raw.get("exams", []), where),
    )


def _practitioners(raw: Any, where: str) -> tuple[PractitionerSpec, ...]:
    if not isinstance(raw, list):
        raise SeedError(f"{where}, field 'practitioners': must be a list")
    result = []
    for index, item in enumerate(raw):
        at = f"{where}, practitioner #{index + 1}"
        _mapping(item, at)
        _known_fields(item, PRACTITIONER_FIELDS, at)
        result.append(PractitionerSpec(
            title=_text(item.get("title"), f"{at}, field 'title'", 20),
            first_name=_text(item.get("first_name"), f"{at}, field 'first_name'", 80),
            last_name=_text(item.get("last_name"), f"{at}, field 'last_name'", 80),
            role=_localized(item.get("role"), at, "role", required=False),
        ))
    _unique([f"{p.first_name} {p.last_name}" for p in result], f"{where}: practitioner")
    return tuple(result)


def _exams(raw: Any, where: str) -> tuple[ExamSpec, ...]:
    if not isinstance(raw, list):
        raise SeedError(f"{where}, field 'exams': must be a list")
    result = []
    for index, item in enumerate(raw):
        _mapping(item, f"{where}, exam #{index + 1}")
        code = _code(item.get("code"), f"{where}, exam #{index + 1}, field 'code'")
        at = f"{where}, exam {code!r}"
        _known_fields(item, EXAM_FIELDS, at)
        result.append(ExamSpec(
            code=code,
            name=_localized(item.get("name"), at, "name"),
            aliases=_aliases(item.get("aliases"), at),
            preparation=_localized(item.get("preparation"), at, "preparation"),
        ))
    return tuple(result)


def _hours(raw: Any, where: str) -> tuple[tuple[int, time, time], ...]:
    """{"mon-fri": ["08:30-12:30", "13:30-18:00"], "sat": ["09:00-12:00"]} → sorted (weekday, opens, closes)."""
    if raw is None:
        return ()
    _mapping(raw, f"{where}, field 'hours'")
    seen: dict[int, str] = {}
    slots: list[tuple[int, time, time]] = []
    for key, intervals in raw.items():
        at = f"{where}, field 'hours.{key}'"
        days = _days(key, at)
        for day in days:
            if day in seen:
                raise SeedError(f"{at}: {WEEKDAYS[day]} is already given by {seen[day]!r}")
            seen[day] = str(key)
        if isinstance(intervals, str):
            intervals = [intervals]
        if not isinstance(intervals, list) or not intervals:
            raise SeedError(f"{at}: expected a list of \"HH:MM-HH:MM\" intervals (leave a closed day out)")
        parsed = sorted(_interval(value, at) for value in intervals)
        for (_, previous_closes), (opens, _) in pairwise(parsed):
            if opens < previous_closes:
                raise SeedError(f"{at}: intervals overlap")
        slots.extend((day, opens, closes) for day in days for opens, closes in parsed)
    return tuple(sorted(slots))


def _days(key: Any, at: str) -> list[int]:
    """"mon" → [0]; "mon-fri" → [0, 1, 2, 3, 4]."""
    names = str(key).strip().lower().split("-")
    if len(names) > 2 or any(name not in WEEKDAYS for name in names):
        raise SeedError(f"{at}: unknown weekday {key!r} (use {', '.join(WEEKDAYS)} or a range such as mon-fri)")
    first, last = WEEKDAYS.index(names[0]), WEEKDAYS.index(names[-1])
    if last < first:
        raise SeedError(f"{at}: the range {key!r} goes backwards")
    return list(range(first, last + 1))


def _interval(value: Any, at: str) -> tuple[time, time]:
    match = _INTERVAL.match(value) if isinstance(value, str) else None
    if not match:
        raise SeedError(f"{at}: {value!r} is not an interval \"HH:MM-HH:MM\"")
    opens = _clock(int(match[1]), int(match[2]), at, value)
    closes = _clock(int(match[3]), int(match[4]), at, value)
    if closes <= opens:
        raise SeedError(f"{at}: {value!r} closes before it opens (split an overnight opening over two days)")
    return opens, closes


def _clock(hour: int, minute: int, at: str, value: str) -> time:
    if (hour, minute) == (24, 0):
        return END_OF_DAY
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise SeedError(f"{at}: {value!r} is not a time of day")
    return time(hour, minute)


def _localized(raw: Any, where: str, name: str, required: bool = True) -> dict[str, str]:
    """{"fr": ..., "en": ...}: every required language present and non-empty; whitespace collapsed."""
    at = f"{where}, field '{name}'"
    if raw is None and not required:
        return {}
    if not isinstance(raw, Mapping):
        raise SeedError(f"{at}: expected texts per language, e.g. {{fr: ..., en: ...}}")
    texts: dict[str, str] = {}
    for language, text in raw.items():
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise SeedError(f"{at}: {language!r} is not a language code such as fr or en")
        if not isinstance(text, str) or not text.strip():
            raise SeedError(f"{where}, field '{name}.{language}': missing text")
        texts[language] = " ".join(text.split())
    for language in REQUIRED_LANGUAGES:
        if language not in texts:
            raise SeedError(f"{at}: missing the {'French' if language == 'fr' else 'English'} text ({language})")
    return texts


def _aliases(raw: Any, where: str) -> dict[str, list[str]]:
    at = f"{where}, field 'aliases'"
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise SeedError(f"{at}: expected lists per language, e.g. {{fr: [...], en: [...]}}")
    aliases: dict[str, list[str]] = {}
    for language, words in raw.items():
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise SeedError(f"{at}: {language!r} is not a language code such as fr or en")
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise SeedError(f"{where}, field 'aliases.{language}': expected a list of words")
        aliases[language] = list(dict.fromkeys(" ".join(w.split()) for w in words))
    return aliases


def _text(raw: Any, at: str, max_length: int, required: bool = True) -> str:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = str(raw)  # floor: 2, phone: 15
    if not isinstance(raw, str) or (required and not raw.strip()):
        raise SeedError(f"{at}: missing")
    text = raw.strip()
    if len(text) > max_length:
        raise SeedError(f"{at}: longer than {max_length} characters")
    return text


def _code(raw: Any, at: str) -> str:
    if not isinstance(raw, str) or not _CODE.match(raw) or len(raw) > 40:
        raise SeedError(f"{at}: {raw!r} is not a code (lowercase letters, digits and dashes, at most 40)")
    return raw


def _flag(raw: Any, at: str) -> bool:
    if not isinstance(raw, bool):
        raise SeedError(f"{at}: expected true or false, not {raw!r}")
    return raw


def _coordinate(raw: Any, at: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise SeedError(f"{at}: expected a number")
    return float(raw)


def _mapping(raw: Any, at: str) -> None:
    if not isinstance(raw, Mapping):
        raise SeedError(f"{at}: expected a mapping of fields")


def _known_fields(raw: Mapping[str, Any], known: set[str], at: str) -> None:
    unknown = sorted(str(key) for key in raw if key not in known)
    if unknown:
        raise SeedError(f"{at}: unknown field {unknown[0]!r} (expected one of {', '.join(sorted(known))})")


def _unique(values: list[str], what: str) -> None:
    duplicates = sorted(value for value, count in Counter(values).items() if count > 1)
    if duplicates:
        raise SeedError(f"{what} {duplicates[0]!r} appears twice")


# ---------------------------------------------------------------- the database, updated


@dataclass
class SeedReport:
    """What the seed did, per kind of row: site, service, opening hours, practitioner, exam."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    not_in_file: list[str] = field(default_factory=list)  # services the database has and the file doesn't

    @property
    def changed(self) -> bool:
        return bool(sum(self.created.values()) + sum(self.updated.values()) + sum(self.removed.values()))

    def count(self, kind: str) -> int:
        """How many rows of this kind the file describes."""
        return self.created[kind] + self.updated[kind] + self.unchanged[kind]

    def __str__(self) -> str:
        kinds = ("site", "service", "practitioner", "exam")
        described = ", ".join(f"{self.count(k)} {k}{'s' if self.count(k) != 1 else ''}" for k in kinds)
        totals = ", ".join(
            f"{sum(counter.values())} {label}"
            for label, counter in (("created", self.created), ("updated", self.updated),
                                   ("removed", self.removed), ("unchanged", self.unchanged))
        )
        kept = f"; not in the file, kept: {', '.join(self.not_in_file)}" if self.not_in_file else ""
        return f"{described} ({totals}){kept}"


async def seed(session: AsyncSession, path: Path | str = DEFAULT_PATH, *, prune: bool = False) -> SeedReport:
    """Bring the database in line with the hospital file. Flushes, does not commit.

    Services the database has and the file doesn't are kept (an administrator may have added
    them) and listed in the report, unless `prune` is set.
    """
    hospital = read_hospital(path)
    report = SeedReport()
    site = await _upsert_site(session, hospital.site, report)
    services = {
        s.code: s
        for s in await session.scalars(
            select(Service).options(
                selectinload(Service.hours), selectinload(Service.practitioners), selectinload(Service.exams)
            )
        )
    }
    exams = {e.code: e for e in await session.scalars(select(Exam))}
    exam_codes_in_file = {e.code for s in hospital.services for e in s.exams}
    for spec in hospital.services:
        service = services.get(spec.code)
        if service is None:
            service = _new_service(spec, site, report)
            session.add(service)
            services[spec.code] = service
        else:
            _update_service(service, spec, site, report)
        _sync_exams(service, spec, exams, exam_codes_in_file, report)
    await _leftovers(session, hospital, services, site, prune, report)
    await session.flush()
    directory.invalidate()
    return report


def _assign(row: object, values: Mapping[str, Any]) -> bool:
    """Set the attributes that differ; True if any did. Untouched rows get no UPDATE."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _count(report: SeedReport, kind: str, changed: bool) -> None:
    (report.updated if changed else report.unchanged)[kind] += 1


async def _upsert_site(session: AsyncSession, spec: SiteSpec, report: SeedReport) -> Site:
    values = {
        "name": spec.name, "address": spec.address, "switchboard_phone": spec.switchboard_phone,
        "emergency_phone": spec.emergency_phone, "access": spec.access, "visiting_hours": spec.visiting_hours,
        "what_to_bring": spec.what_to_bring, "latitude": spec.latitude, "longitude": spec.longitude,
    }
    site = await session.scalar(select(Site).where(Site.code == spec.code))
    if site is None:
        site = Site(code=spec.code, **values)
        session.add(site)
        await session.flush()  # services need its id
        report.created["site"] += 1
    else:
        _count(report, "site", _assign(site, values))
    return site


def _service_values(spec: ServiceSpec, site: Site) -> dict[str, Any]:
    return {
        "site_id": site.id, "specialty": spec.specialty, "name": spec.name, "aliases": spec.aliases,
        "description": spec.description, "building": spec.building, "floor": spec.floor, "location": spec.location,
        "phone": spec.phone, "open_all_hours": spec.open_all_hours, "what_to_bring": spec.what_to_bring,
        "visiting_hours": spec.visiting_hours, "accepts_appointments": spec.accepts_appointments,
    }


def _opening_hours(spec: ServiceSpec) -> list[OpeningHours]:
    return [OpeningHours(weekday=day, opens=opens, closes=closes) for day, opens, closes in spec.hours]


def _practitioner(spec: PractitionerSpec) -> Practitioner:
    return Practitioner(title=spec.title, first_name=spec.first_name, last_name=spec.last_name, role=spec.role)


def _new_service(spec: ServiceSpec, site: Site, report: SeedReport) -> Service:
    report.created["service"] += 1
    report.created["opening hours"] += 1
    report.created["practitioner"] += len(spec.practitioners)
    return Service(
        code=spec.code,
        hours=_opening_hours(spec),
        practitioners=[_practitioner(p) for p in spec.practitioners],
        exams=[],
        **_service_values(spec, site),
    )


def _update_service(service: Service, spec: ServiceSpec, site: Site, report: SeedReport) -> None:
    _count(report, "service", _assign(service, _service_values(spec, site)))
    current = sorted((h.weekday, h.opens, h.closes) for h in service.hours)
    if current != list(spec.hours):
        service.hours = _opening_hours(spec)  # the old rows are orphans, deleted at flush
    _count(report, "opening hours", current != list(spec.hours))
    _sync_practitioners(service, spec, report)


def _sync_practitioners(service: Service, spec: ServiceSpec, report: SeedReport) -> None:
    """Practitioners have no code: the same first and last name is the same person."""
    existing = {(p.first_name, p.last_name): p for p in service.practitioners}
    for wanted in spec.practitioners:
        row = existing.pop((wanted.first_name, wanted.last_name), None)
        if row is None:
            service.practitioners.append(_practitioner(wanted))
            report.created["practitioner"] += 1
        else:
            _count(report, "practitioner", _assign(row, {"title": wanted.title, "role": wanted.role}))
    for row in existing.values():
        service.practitioners.remove(row)
        report.removed["practitioner"] += 1


def _sync_exams(service: Service, spec: ServiceSpec, exams: dict[str, Exam], in_file: set[str],
                report: SeedReport) -> None:
    """Exams are matched by code across services, so one that moves to another service keeps its row."""
    for wanted in spec.exams:
        values = {"name": wanted.name, "aliases": wanted.aliases, "preparation": wanted.preparation}
        row = exams.get(wanted.code)
        if row is None:
            row = Exam(code=wanted.code, **values)
            service.exams.append(row)
            exams[wanted.code] = row
            report.created["exam"] += 1
            continue
        changed = _assign(row, values)
        if row not in service.exams:
            service.exams.append(row)  # moved here from another service
            changed = True
        _count(report, "exam", changed)
    wanted_codes = {e.code for e in spec.exams}
    for row in list(service.exams):
        # An exam listed under another service is moving there: that service takes it over.
        if row.code not in wanted_codes and row.code not in in_file:
            service.exams.remove(row)
            report.removed["exam"] += 1


async def _leftovers(session: AsyncSession, hospital: HospitalSpec, services: dict[str, Service], site: Site,
                     prune: bool, report: SeedReport) -> None:
    """Rows the file no longer describes: listed, or deleted with `prune`."""
    in_file = {s.code for s in hospital.services}
    for code, service in services.items():
        if code in in_file:
            continue
        if prune:
            await session.delete(service)
            report.removed["service"] += 1
        else:
            report.not_in_file.append(code)
    if prune:
        await session.flush()
        for other in await session.scalars(select(Site).where(Site.id != site.id)):
            await session.delete(other)
            report.removed["site"] += 1
