"""Parcours triage engine: a red-flag screen for every message and an explainable orientation.

    from bot.triage import red_flags_in, triage, TriageResult, RedFlag, LEVELS, warm_up

The clinical content (terms, red flags, rules, questions, texts) lives in `bot/triage/data/*.yml`,
versioned and readable by clinicians; this package only interprets it. Nothing here diagnoses or
prescribes: it tells the patient which level of care fits, why, and when to call 15.
"""

from .engine import triage, warm_up
from .result import EmergencyNumber, FollowUpQuestion, QuestionOption, RedFlag, TriageResult
from .rules import LEVELS, SERVICES
from .screen import Screening, red_flags_in, screen_message

__all__ = [
    "LEVELS",
    "SERVICES",
    "EmergencyNumber",
    "FollowUpQuestion",
    "QuestionOption",
    "RedFlag",
    "Screening",
    "TriageResult",
    "red_flags_in",
    "screen_message",
    "triage",
    "warm_up",
]
