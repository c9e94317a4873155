"""The red-flag screen run on every patient message, in every flow."""

from __future__ import annotations

from .analysis import Analysis, analyse
from .conditions import CONCEPT_KEYS
from .decision import flags_for
from .facts import Facts, facts_from_text
from .rules import RedFlagRule, RuleBook, rules
from .result import RedFlag


def normalise_language(language: str | None) -> str | None:
    if not language:
        return None
    code = language.strip().lower()[:2]
    return code if code in ("fr", "en") else None


def facts_from_analysis(text: str, analysis: Analysis) -> Facts:
    found = facts_from_text(text)
    concepts = set(analysis.affirmed)
    temperature = found["temperature"]
    if isinstance(temperature, float) and temperature >= 38.0 and "fever" not in analysis.negated:
        concepts.add("fever")  # "mon bébé a 38,5": a number is a fever even without the word
    return Facts(
        concepts=concepts,
        negated=set(analysis.negated),
        age=found["age"],  # type: ignore[arg-type]
        sex=found["sex"],  # type: ignore[arg-type]
        temperature=found["temperature"],  # type: ignore[arg-type]
        pain=found["pain"],  # type: ignore[arg-type]
        duration=found["duration"],  # type: ignore[arg-type]
        uncertain=set(analysis.uncertain) - concepts,
    )


def to_red_flag(flag: RedFlagRule, analysis: Analysis, book: RuleBook) -> RedFlag:
    concepts = {c for cond in flag.conditions for key in CONCEPT_KEYS if key != "none" for c in cond.get(key, [])}
    if any("fever" in cond for cond in flag.conditions):
        concepts.add("fever")
    codes = list(book.default_numbers) + [n for n in flag.extra_numbers if n not in book.default_numbers]
    return RedFlag(
        code=flag.code,
        level=flag.level,
        numbers=[book.numbers[c].number for c in codes],
        matched=analysis.texts_for(concepts),
        label=dict(flag.label),
        service=flag.service,
    )


def red_flags_in(text: str, language: str | None = None) -> list[RedFlag]:
    """Life-threatening signs in one message: affirmed, current, not hypothetical, not a relative's
    past history. Fast (a few ms; the edsnlp pipeline is only run when a symptom word is present).
    Age comes from the text only ("bébé de 2 mois"); `triage()` also uses the known age."""
    book = rules()
    if not text or not text.strip():
        return []
    analysis = analyse(text, normalise_language(language))
    if not analysis.mentions:
        return []
    facts = facts_from_analysis(text, analysis)
    return [to_red_flag(flag, analysis, book) for flag in flags_for(facts, book)]
