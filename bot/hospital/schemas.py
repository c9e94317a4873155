"""The hospital's things, described once: what hospital.yml says and what the directory holds.

Each thing's fields are declared in one model (`SiteInfo`, `ServiceBase`, `OpeningSlot`,
`PractitionerInfo`, `ExamBase`), with the form of each value: codes, texts per language, aliases.
Two kinds of model build on them:

- the directory's records, read from database rows (`ServiceInfo`, `ExamInfo` add the code of
  what they belong to);
- the file's entries (`*Entry`, `HospitalFile`), which add what a hand-written file must say:
  every text in every supported language, the required texts, a known specialty, opening hours
  as "mon-fri: 08:30-12:30" (or `open_all_hours`), unique codes.

Records hold no more than the shape, so the directory still answers for a row the file would
refuse (a service without hours, a text in one language only).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from datetime import time
from itertools import pairwise
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from bot.core.language import supported_languages
from bot.core.numbers import fill_numbers

# "24:00" in the data file: a time column cannot hold it, so the end of the day stands for it.
END_OF_DAY = time(23, 59, 59)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The specialties triage routes patients to (bot.triage.SERVICES), by which orientation finds a
# service, plus two that patients ask about but triage never sends them to directly.
TRIAGE_SPECIALTIES = frozenset({
    "general_medicine", "cardiology", "paediatrics", "maternity", "gynaecology", "gastroenterology",
    "dermatology", "ophthalmology", "ent", "orthopaedics", "neurology", "psychiatry", "radiology", "oncology",
    "pulmonology", "urology", "emergency", "paediatric_emergency",
})
SPECIALTIES = TRIAGE_SPECIALTIES | {"laboratory", "intensive_care"}
LANGUAGE_NAMES = {"fr": "French", "en": "English"}

_CODE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_INTERVAL = re.compile(r"\s*(\d{1,2}):(\d{2})\s*[-–]\s*(\d{1,2}):(\d{2})\s*")


# ---------------------------------------------------------------- the form of values


def _as_text(value: object) -> object:
    """`floor: 2`, `emergency_phone: 15`: YAML reads numbers, the hospital means text."""
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _none_as_empty(value: object) -> object:
    """`visiting_hours:` left blank in YAML is null: the text is not given."""
    return {} if value is None else value


def _code(value: str) -> str:
    if not _CODE.fullmatch(value):
        raise ValueError(f"{value!r} is not a code (lowercase letters, digits and dashes, at most 40)")
    return value


def _language(value: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise ValueError(f"{value!r} is not a language code such as fr or en")
    return value


def _one_line(text: str) -> str:
    """YAML's folded blocks keep line breaks and indents that a patient must not see."""
    collapsed = " ".join(text.split())
    if not collapsed:
        raise ValueError("missing text")
    return collapsed


def _without_repeats(words: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(words))


Text = Annotated[str, BeforeValidator(_as_text), StringConstraints(strict=True, strip_whitespace=True)]
Code = Annotated[StrictStr, AfterValidator(_code)]
Language = Annotated[StrictStr, AfterValidator(_language)]
LocalText = Annotated[StrictStr, AfterValidator(_one_line)]
Texts = dict[Language, LocalText]  # {"fr": ..., "en": ...}
OptionalTexts = Annotated[Texts, BeforeValidator(_none_as_empty)]
Aliases = Annotated[
    dict[Language, Annotated[tuple[LocalText, ...], AfterValidator(_without_repeats)]],
    BeforeValidator(_none_as_empty),
]


# ---------------------------------------------------------------- the shape of things


class _Shape(BaseModel):
    # Records are shared across requests: immutable. A field nobody declared is a typo.
    model_config = ConfigDict(frozen=True, extra="forbid")


class OpeningSlot(_Shape):
    """One opening interval on one weekday (0 = Monday), in Paris time."""

    weekday: int
    opens: time
    closes: time


class PractitionerInfo(_Shape):
    title: Text = Field(max_length=20)  # Dr, Pr, Mme, M.
    first_name: Text = Field(max_length=80)
    last_name: Text = Field(max_length=80)
    role: OptionalTexts = {}

    @property
    def display_name(self) -> str:
        return f"{self.title} {self.first_name} {self.last_name}"


class ExamBase(_Shape):
    """An examination a patient may need to prepare for (MRI, colonoscopy…)."""

    code: Code
    name: Texts
    aliases: Aliases = {}
    preparation: Texts


class ServiceBase(_Shape):
    code: Code
    specialty: StrictStr  # triage routes to this code
    name: Texts
    aliases: Aliases = {}  # the words patients type
    description: Texts
    building: Text = Field("", max_length=80)
    floor: Text = Field("", max_length=40)  # a level: 0 is the ground floor, -1 the basement
    location: Texts  # directions inside the hospital
    phone: Text = Field(max_length=40)
    open_all_hours: StrictBool = False
    hours: tuple[OpeningSlot, ...] = ()  # by weekday, then opening time
    what_to_bring: OptionalTexts = {}
    visiting_hours: OptionalTexts = {}  # overrides the site's rule when set
    accepts_appointments: StrictBool = True
    practitioners: tuple[PractitionerInfo, ...] = ()
    exams: tuple[ExamBase, ...] = ()


class SiteInfo(_Shape):
    code: Code
    name: Text = Field(max_length=200)
    address: Text = Field(max_length=300)
    switchboard_phone: Text = Field(max_length=40)
    emergency_phone: Text = Field(default_factory=lambda: fill_numbers("%samu%"), max_length=40)
    access: Texts  # how to get there: transport, parking
    visiting_hours: Texts  # the general rule for the site
    what_to_bring: Texts  # the general list, before a stay or visit
    latitude: StrictFloat | None = None
    longitude: StrictFloat | None = None


# ---------------------------------------------------------------- the directory's records


class ExamInfo(ExamBase):
    service_code: str


class ServiceInfo(ServiceBase):
    site_code: str
    exams: tuple[ExamInfo, ...] = ()


# ---------------------------------------------------------------- the file's entries


def _in_every_language(*fields: str) -> Any:
    """A text, when given, is in every language the assistant speaks; null leaves an optional one out."""

    def check(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        texts = handler(value)
        missing = [language for language in supported_languages() if language not in texts]
        if value is not None and missing:
            name = LANGUAGE_NAMES.get(missing[0], missing[0])
            raise ValueError(f"missing the {name} text ({missing[0]})")
        return texts

    return field_validator(*fields, mode="wrap")(check)


def _given(*fields: str) -> Any:
    """Records may hold an empty text (an administrator's row); the file must say it."""

    def check(value: str) -> str:
        if not value:
            raise ValueError("missing")
        return value

    return field_validator(*fields)(check)


def _once(values: Iterable[str], what: str) -> None:
    repeated = sorted(value for value, count in Counter(values).items() if count > 1)
    if repeated:
        raise ValueError(f"{what} {repeated[0]!r} appears twice")


def _mistake(at: str, message: str, value: object) -> ValidationError:
    """A mistake in one part of the field being validated: pydantic puts the field's place before `at`."""
    error = InitErrorDetails(type="value_error", loc=(at,), input=value, ctx={"error": ValueError(message)})
    return ValidationError.from_exception_data("hospital", [error])


def _days(key: str) -> list[int]:
    """"mon" → [0]; "mon-fri" → [0, 1, 2, 3, 4]."""
    names = key.strip().lower().split("-")
    if len(names) > 2 or any(name not in WEEKDAYS for name in names):
        raise ValueError(f"unknown weekday {key!r} (use {', '.join(WEEKDAYS)} or a range such as mon-fri)")
    first, last = WEEKDAYS.index(names[0]), WEEKDAYS.index(names[-1])
    if last < first:
        raise ValueError(f"the range {key!r} goes backwards")
    return list(range(first, last + 1))


def _day_range(key: str) -> str:
    _days(key)
    return key  # as written, for the messages about it


def _clock(hour: int, minute: int, interval: str) -> time:
    if (hour, minute) == (24, 0):
        return END_OF_DAY
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"{interval!r} is not a time of day")
    return time(hour, minute)


def _interval(value: object) -> tuple[time, time]:
    match = _INTERVAL.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"{value!r} is not an interval \"HH:MM-HH:MM\"")
    opens = _clock(int(match[1]), int(match[2]), match.string)
    closes = _clock(int(match[3]), int(match[4]), match.string)
    if closes <= opens:
        raise ValueError(f"{value!r} closes before it opens (split an overnight opening over two days)")
    return opens, closes


def _apart(intervals: tuple[tuple[time, time], ...]) -> tuple[tuple[time, time], ...]:
    if not intervals:
        raise ValueError('expected a list of "HH:MM-HH:MM" intervals (leave a closed day out)')
    ordered = tuple(sorted(intervals))
    if any(opens < previous_closes for (_, previous_closes), (opens, _) in pairwise(ordered)):
        raise ValueError("intervals overlap")
    return ordered


def _listed(value: object) -> object:
    return [value] if isinstance(value, str) else value  # `sat: 09:00-12:00`, one interval


Interval = Annotated[tuple[time, time], BeforeValidator(_interval)]
DayHours = Annotated[tuple[Interval, ...], BeforeValidator(_listed), AfterValidator(_apart)]
# {"mon-fri": ["08:30-12:30", "13:30-18:00"], "sat": "09:00-12:00"}; a day not listed is closed.
# Validated from the field's validator, its mistakes are still placed under the field: "hours.sat".
_WEEK = TypeAdapter(dict[Annotated[str, AfterValidator(_day_range)], DayHours])


def _slots(week: dict[str, tuple[tuple[time, time], ...]]) -> tuple[OpeningSlot, ...]:
    given_by: dict[int, str] = {}
    slots: list[tuple[int, time, time]] = []
    for key, intervals in week.items():
        for day in _days(key):
            if day in given_by:
                raise _mistake(key, f"{WEEKDAYS[day]} is already given by {given_by[day]!r}", intervals)
            given_by[day] = key
            slots.extend((day, opens, closes) for opens, closes in intervals)
    return tuple(OpeningSlot(weekday=day, opens=opens, closes=closes) for day, opens, closes in sorted(slots))


class PractitionerEntry(PractitionerInfo):
    _languages = _in_every_language("role")
    _required = _given("title", "first_name", "last_name")


class ExamEntry(ExamBase):
    _languages = _in_every_language("name", "preparation")


class ServiceEntry(ServiceBase):
    """A service as hospital.yml describes it."""

    practitioners: tuple[PractitionerEntry, ...] = ()
    exams: tuple[ExamEntry, ...] = ()

    _languages = _in_every_language("name", "description", "location", "what_to_bring", "visiting_hours")
    _required = _given("phone")

    @field_validator("specialty")
    @classmethod
    def _known_specialty(cls, specialty: str) -> str:
        if specialty not in SPECIALTIES:
            raise ValueError(f"{specialty!r} is not one of {', '.join(sorted(SPECIALTIES))}")
        return specialty

    @field_validator("hours", mode="before")
    @classmethod
    def _weekly_hours(cls, hours: object) -> tuple[OpeningSlot, ...]:
        return () if hours is None else _slots(_WEEK.validate_python(hours))

    @field_validator("practitioners")
    @classmethod
    def _each_person_once(cls, practitioners: tuple[PractitionerEntry, ...]) -> tuple[PractitionerEntry, ...]:
        # Practitioners have no code: the seed knows them by their names.
        _once((f"{p.first_name} {p.last_name}" for p in practitioners), "practitioner")
        return practitioners

    @model_validator(mode="after")
    def _hours_or_always_open(self) -> Self:
        if self.open_all_hours and self.hours:
            raise _mistake("hours", "give either `hours` or `open_all_hours: true`, not both", self.hours)
        if not self.open_all_hours and not self.hours:
            raise _mistake("hours", "missing (or set `open_all_hours: true`)", None)
        return self


class SiteEntry(SiteInfo):
    _languages = _in_every_language("access", "visiting_hours", "what_to_bring")
    _required = _given("name", "address", "switchboard_phone", "emergency_phone")


class HospitalFile(_Shape):
    """The whole of hospital.yml."""

    version: Literal[1] = 1
    site: SiteEntry
    services: tuple[ServiceEntry, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_codes(self) -> Self:
        # Rows are matched by these codes: two entries with one code would be one row.
        _once((s.code for s in self.services), "service code")
        _once((e.code for s in self.services for e in s.exams), "exam code")
        return self
