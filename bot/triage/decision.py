"""From facts to a level and a service, using red_flags.yml and complaints.yml."""

from __future__ import annotations

from dataclasses import dataclass, field

from .conditions import evaluate
from .facts import Facts
from .rules import LEVEL_RANK, Complaint, Modifier, RedFlagRule, Rule, RuleBook


@dataclass(frozen=True)
class Outcome:
    complaint: Complaint
    rule: Rule
    level: str
    service: str | None
    modifiers: tuple[Modifier, ...] = ()


@dataclass
class Decision:
    level: str | None
    service: str | None
    flags: list[RedFlagRule] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    top: Outcome | None = None
    base_service: str | None = None  # before the paediatric mapping

    @property
    def key(self) -> tuple[str | None, str | None]:
        """What a follow-up question may change. Not the child/adult version of the same
        service: asking the age only for that would be one question too many."""
        return (self.level, self.base_service)


def flags_for(facts: Facts, book: RuleBook) -> list[RedFlagRule]:
    return [flag for flag in book.red_flags if any(evaluate(c, facts) is True for c in flag.conditions)]


def flags_if_confirmed(facts: Facts, concepts: set[str], book: RuleBook) -> list[RedFlagRule]:
    """The red flags that would hold if these uncertain concepts were confirmed."""
    if_true = facts.copy()
    if_true.concepts |= concepts
    return flags_for(if_true, book)


def _outcome(complaint: Complaint, facts: Facts, book: RuleBook) -> Outcome:
    # First rule that certainly holds; an unknown one is skipped here and becomes a question.
    chosen = next((r for r in complaint.rules if evaluate(r.when, facts) is True), complaint.default)
    level = chosen.level
    applied = []
    for modifier in book.modifiers:
        if (modifier.applies_to(complaint.code) and evaluate(modifier.when, facts) is True
                and LEVEL_RANK[modifier.min_level] < LEVEL_RANK[level]):
            level = modifier.min_level
            applied.append(modifier)
    return Outcome(complaint, chosen, level, chosen.service, tuple(applied))


def _paediatric(service: str | None, facts: Facts, book: RuleBook) -> str | None:
    if service in book.paediatric_services and evaluate({"age": {"below": book.paediatric_age_below}}, facts) is True:
        return book.paediatric_services[service]
    return service


def decide(facts: Facts, book: RuleBook) -> Decision:
    flags = flags_for(facts, book)
    active = [c for c in book.complaints if any(t in facts.concepts for t in c.triggers)]
    if any(not c.secondary for c in active):
        active = [c for c in active if not c.secondary]
    outcomes = [_outcome(c, facts, book) for c in active]
    # The most urgent wins; on a tie a red flag first, then the complaint listed first in the file.
    candidates: list[tuple[int, int, str | None, RedFlagRule | Outcome]] = []
    for i, flag in enumerate(flags):
        candidates.append((LEVEL_RANK[flag.level], i, flag.service, flag))
    for i, outcome in enumerate(outcomes):
        candidates.append((LEVEL_RANK[outcome.level], len(flags) + i, outcome.service, outcome))
    if not candidates:
        return Decision(None, None)
    rank, _order, service, winner = min(candidates, key=lambda c: (c[0], c[1]))
    top = winner if isinstance(winner, Outcome) else None
    level = next(level for level, r in LEVEL_RANK.items() if r == rank)
    return Decision(level, _paediatric(service, facts, book), flags, outcomes, top, service)
