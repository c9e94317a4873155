"""The objects the rest of the app receives from the triage engine."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RedFlag:
    """A life-threatening sign found in a patient message."""

    code: str  # e.g. "chest_pain_cardiac", "stroke_signs", "suicidal_intent"
    level: str  # "emergency_call" for most, "emergency_department" for a few
    numbers: list[str]  # e.g. ["15", "112", "114"] (+ "3114", the poison centre…)
    matched: list[str]  # the patient's words that triggered it (normalised)
    label: dict[str, str]  # {"fr": …, "en": …}
    service: str = "emergency"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class QuestionOption:
    value: str
    label: str


@dataclass
class FollowUpQuestion:
    id: str
    text: str
    options: list[QuestionOption] = field(default_factory=list)


@dataclass
class EmergencyNumber:
    number: str
    label: str


@dataclass
class TriageResult:
    level: str  # one of LEVELS; while complete is False, the level for what is known so far
    service: str | None  # hospital Service.specialty code
    red_flags: list[str]
    reasons: list[str]
    follow_up_questions: list[FollowUpQuestion]
    safety_net: str
    language: str
    complete: bool
    advice: str = ""  # what to do at this level, in the patient's language
    emergency_numbers: list[EmergencyNumber] = field(default_factory=list)
    flags: list[RedFlag] = field(default_factory=list)
    concepts: list[str] = field(default_factory=list)  # what was understood (for staff/audit)
    rules_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
