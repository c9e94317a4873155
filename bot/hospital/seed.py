"""Loads the hospital described in bot/hospital/data/hospital.yml into the database.

Idempotent: rows are matched by their codes (site, service, exam) or names (practitioners), only
what differs is written, so running it at every `make run` changes nothing once the data is in,
and an edited file updates the rows it names. The file is checked whole (bot.hospital.schemas)
before anything is written; its mistakes raise `SeedError`, one line each, naming the entry and
the field.

The caller owns the transaction (`async with session_scope() as session: await seed(session)`).
"""

from __future__ import annotations

import reprlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from bot.core.numbers import fill_numbers_in
from bot.hospital import directory
from bot.hospital.models import Exam, OpeningHours, Practitioner, Service, Site
from bot.hospital.schemas import ExamEntry, HospitalFile, PractitionerEntry, ServiceEntry, SiteEntry

DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "hospital.yml"

# libyaml's loader when present: the file is read at every `make run`, and it is ten times faster.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SeedError(ValueError):
    """The hospital file is wrong; the message says where."""


# ---------------------------------------------------------------- the file, checked


def read_hospital(path: Path | str = DEFAULT_PATH) -> HospitalFile:
    """Parse and check the hospital file (bot.hospital.schemas); nothing touches the database."""
    path = Path(path)
    try:
        # Texts name emergency numbers by code (%samu%…): stored filled, as patients read them.
        raw = fill_numbers_in(yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER))
    except OSError as error:
        raise SeedError(f"cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise SeedError(f"{path.name} is not valid YAML: {error}") from error
    try:
        return HospitalFile.model_validate(raw)
    except ValidationError as error:
        raise SeedError("\n".join(f"{path.name}: {_describe(mistake, raw)}" for mistake in error.errors())) from None


# Pydantic's own checks, said in the file's terms; the schemas' rules give their own messages.
_MESSAGES = {
    "missing": "missing",
    "string_type": "expected text, not {input}",
    "string_too_long": "longer than {max_length} characters",
    "bool_type": "expected true or false, not {input}",
    "float_type": "expected a number, not {input}",
    "dict_type": "expected a mapping, not {input}",
    "model_type": "expected a mapping of fields, not {input}",
    "tuple_type": "expected a list, not {input}",
    "too_short": "must not be empty",
    "literal_error": "{input} is not supported (expected {expected})",
}
# The entries of the file, by the field that holds them: named by their code when they have one.
_ENTRIES: dict[str, tuple[str, type[BaseModel]]] = {
    "site": ("site", SiteEntry),
    "services": ("service", ServiceEntry),
    "exams": ("exam", ExamEntry),
    "practitioners": ("practitioner", PractitionerEntry),
}


def _describe(mistake: ErrorDetails, raw: Any) -> str:
    """"service 'orl', field 'hours.fri': intervals overlap", from pydantic's ("services", 6, "hours", "fri")."""
    loc = list(mistake["loc"])
    names: list[str] = []
    model: type[BaseModel] = HospitalFile
    while loc and loc[0] in _ENTRIES:
        kind, entry = _ENTRIES[str(loc[0])]
        if kind == "site":
            raw = _item(raw, "site")
            names.append(kind)
            del loc[0]
        elif len(loc) > 1 and isinstance(loc[1], int):
            raw = _item(_item(raw, loc[0]), loc[1])
            code = _item(raw, "code")
            names.append(f"{kind} {code!r}" if isinstance(code, str) else f"{kind} #{loc[1] + 1}")
            del loc[:2]
        else:
            break  # the list itself is wrong, as a field of its entry
        model = entry
    if mistake["type"] == "extra_forbidden":
        message = f"unknown field {str(loc.pop())!r} (expected one of {', '.join(sorted(model.model_fields))})"
    else:
        message = _message(mistake)
    # Positions in a list are left out: the message quotes the value. "[key]" marks a mapping's key.
    path = ".".join(str(part) for part in loc if isinstance(part, str) and part != "[key]")
    where = ", ".join(names + ([f"field {path!r}"] if path else []))
    return f"{where}: {message}" if where else message


def _message(mistake: ErrorDetails) -> str:
    context = mistake.get("ctx", {})
    if mistake["type"] == "value_error":
        return str(context["error"])
    template = _MESSAGES.get(mistake["type"])
    return template.format(input=reprlib.repr(mistake["input"]), **context) if template else mistake["msg"]


def _item(container: Any, key: str | int) -> Any:
    try:
        return container[key]
    except (KeyError, IndexError, TypeError):
        return None


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


def _columns(spec: BaseModel, *exclude: str) -> dict[str, Any]:
    """The entry's fields as its row holds them: JSON columns hold lists, not tuples."""
    return spec.model_dump(mode="json", exclude=set(exclude))


async def _upsert_site(session: AsyncSession, spec: SiteEntry, report: SeedReport) -> Site:
    values = _columns(spec, "code")
    site = await session.scalar(select(Site).where(Site.code == spec.code))
    if site is None:
        site = Site(code=spec.code, **values)
        session.add(site)
        await session.flush()  # services need its id
        report.created["site"] += 1
    else:
        _count(report, "site", _assign(site, values))
    return site


def _service_values(spec: ServiceEntry, site: Site) -> dict[str, Any]:
    # Hours, practitioners and exams are rows of their own.
    return _columns(spec, "code", "hours", "practitioners", "exams") | {"site_id": site.id}


def _opening_hours(spec: ServiceEntry) -> list[OpeningHours]:
    return [OpeningHours(weekday=slot.weekday, opens=slot.opens, closes=slot.closes) for slot in spec.hours]


def _practitioner(spec: PractitionerEntry) -> Practitioner:
    return Practitioner(**_columns(spec))


def _new_service(spec: ServiceEntry, site: Site, report: SeedReport) -> Service:
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


def _update_service(service: Service, spec: ServiceEntry, site: Site, report: SeedReport) -> None:
    _count(report, "service", _assign(service, _service_values(spec, site)))
    current = sorted((h.weekday, h.opens, h.closes) for h in service.hours)
    changed = current != [(s.weekday, s.opens, s.closes) for s in spec.hours]
    if changed:
        service.hours = _opening_hours(spec)  # the old rows are orphans, deleted at flush
    _count(report, "opening hours", changed)
    _sync_practitioners(service, spec, report)


def _sync_practitioners(service: Service, spec: ServiceEntry, report: SeedReport) -> None:
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


def _sync_exams(service: Service, spec: ServiceEntry, exams: dict[str, Exam], in_file: set[str],
                report: SeedReport) -> None:
    """Exams are matched by code across services, so one that moves to another service keeps its row."""
    for wanted in spec.exams:
        values = _columns(wanted, "code")
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


async def _leftovers(session: AsyncSession, hospital: HospitalFile, services: dict[str, Service], site: Site,
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
