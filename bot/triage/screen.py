"""The red-flag screen run on every patient message, in every flow."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.language import supported_languages

from .analysis import Analysis, analyse
from .conditions import CONCEPT_KEYS
from .decision import flags_for, flags_if_confirmed
from .facts import Facts, facts_from_text
from .recall import RecallHit, recall_net
from .result import RedFlag
from .rules import LEVEL_RANK, RedFlagRule, RuleBook, rules


def normalise_language(language: str | None) -> str | None:
    if not language:
        return None
    code = language.strip().lower()[:2]
    return code if code in supported_languages() else None


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


def _urgent(flag: RedFlagRule) -> bool:
    return LEVEL_RANK[flag.level] <= LEVEL_RANK["emergency_department"]


def consult_recall_net(text: str, facts: Facts, book: RuleBook) -> tuple[RecallHit | None, set[str]]:
    """The recall net's reading of a message no red flag sends to emergency care: its `direct`
    concepts count at once; its `confirms` concepts become uncertain (asked about). Returns the
    hit and the concepts it alone guessed."""
    if any(_urgent(f) for f in flags_for(facts, book)):
        return None, set()
    hit = recall_net().classify(text)
    if hit is None:
        return None, set()
    facts.concepts |= set(hit.category.direct) - facts.negated  # "no thoughts of harming myself"
    guessed = set(hit.category.confirms) - facts.concepts - facts.uncertain
    facts.uncertain |= guessed
    return hit, guessed


@dataclass(frozen=True)
class Screening:
    """What the screen found in one message.

    `urgent`: red flags that send to emergency care (15 or the ED) at once, whatever the flow.
    `concerns`: red flags that need care and a helpline but not the SAMU (dark thoughts: 3114 and
    the screener's direct question). `to_confirm`: a warning sign mentioned only as a question or
    a hypothesis, or an emergency the recall net recognised and no rule caught: the orientation
    must ask the patient (one yes/no question) rather than let the message go elsewhere.
    """

    urgent: list[RedFlag] = field(default_factory=list)
    concerns: list[RedFlag] = field(default_factory=list)
    to_confirm: bool = False


def screen_message(text: str, language: str | None = None) -> Screening:
    """The red-flag screen of every patient message, with the recall net behind the rules."""
    book = rules()
    if not text or not text.strip():
        return Screening()
    analysis = analyse(text, normalise_language(language))
    facts = facts_from_analysis(text, analysis)
    flags = flags_for(facts, book)
    urgent = [f for f in flags if _urgent(f)]
    if urgent:
        return Screening(urgent=[to_red_flag(f, analysis, book) for f in urgent])
    consult_recall_net(text, facts, book)
    to_confirm = bool(facts.uncertain) and any(_urgent(f) for f in flags_if_confirmed(facts, facts.uncertain, book))
    return Screening(concerns=[to_red_flag(f, analysis, book) for f in flags_for(facts, book)], to_confirm=to_confirm)


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
