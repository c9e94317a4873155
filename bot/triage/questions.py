"""Follow-up questions: which ones change the decision, and reading the answers.

A question is worth asking only if two of its possible answers lead to a different level or
service: the engine simply tries every option (a few dozen evaluations of pure-Python rules,
well under a millisecond). Answers may be an option value or free text ("38,5", "depuis hier",
"8/10", "3 mois", "oui").
"""

from __future__ import annotations

from typing import Any

from .conditions import evaluate
from .decision import Decision, decide
from .facts import Facts, parse_age, parse_duration, parse_pain, parse_temperature, parse_yes_no
from .rules import Option, Question, RuleBook
from .text import normalize

# Accept a few natural alternative keys from integrators.
ALIASES = {
    "age": "age_group", "pain": "pain_intensity", "temperature": "fever", "pregnant": "pregnancy",
    "chronic": "chronic_condition", "durée": "duration", "duree": "duration",
}


def _apply_sets(facts: Facts, sets: dict[str, Any]) -> None:
    for key, value in sets.items():
        if key == "age":
            facts.age = (float(value[0]), float(value[1]))
        elif key == "duration_hours":
            facts.duration = (float(value[0]), float(value[1]))
        elif key == "temperature":
            facts.temperature = float(value)
        elif key == "fever":
            facts.fever_answer = bool(value)
        elif key == "pain":
            facts.pain = float(value)
        elif key == "pregnant":
            facts.pregnant_answer = bool(value)
        elif key == "worsening":
            facts.worsening_answer = bool(value)
        elif key == "chronic":
            facts.chronic_answer = bool(value)
        elif key == "confirmed":
            facts.confirmed = bool(value)
        elif key == "suicidal_now":
            facts.suicidal_now = bool(value)


def apply_answer(facts: Facts, question: Question, raw: str) -> None:
    """Record an answer: an option value, an option label, or the patient's own words."""
    facts.answered.add(question.id)
    text = str(raw).strip()
    lowered = text.lower()
    for option in question.options:
        if lowered == option.value.lower() or lowered in (label.lower() for label in option.label.values()):
            _apply_sets(facts, option.sets)
            return
    norm = normalize(text)
    if question.fact == "age":
        facts.age = parse_age(norm, answer=True) or facts.age
    elif question.fact == "temperature":
        temperature = parse_temperature(norm, answer=True)
        if temperature is not None:
            facts.temperature = temperature
        else:
            yes_no = parse_yes_no(norm)
            if yes_no is not None:
                facts.fever_answer = yes_no
    elif question.fact == "pain":
        facts.pain = parse_pain(norm, answer=True) if parse_pain(norm, answer=True) is not None else facts.pain
    elif question.fact == "duration_hours":
        facts.duration = parse_duration(norm, answer=True) or facts.duration
    elif question.fact in ("pregnant", "worsening", "chronic", "confirmed", "suicidal_now"):
        value = parse_yes_no(norm)
        if question.fact == "pregnant" and value is None and norm:
            value = True  # "je ne sais pas" about a pregnancy: treat as possible (the safe side)
        if question.fact == "worsening" and value is None and any(w in norm for w in ("mieux", "better", "pareil", "same")):
            value = False
        if value is not None:
            _apply_sets(facts, {question.fact: value})


def apply_answers(facts: Facts, answers: dict[str, str] | None, book: RuleBook) -> None:
    by_id = {q.id: q for q in book.questions}
    for key, value in (answers or {}).items():
        if value is None:
            continue
        question = by_id.get(ALIASES.get(key, key))
        if question is not None:
            apply_answer(facts, question, value)


def _known(facts: Facts, question: Question) -> bool:
    fact = question.fact
    if fact == "age":
        return facts.age is not None and facts.age[0] == facts.age[1]
    if fact == "duration_hours":
        return facts.duration is not None and facts.duration[0] == facts.duration[1]
    if fact == "temperature":
        return facts.temperature is not None or facts.fever is False
    if fact == "pain":
        return facts.pain is not None
    return getattr(facts, fact) is not None


def _consistent(facts: Facts, option: Option) -> bool:
    """Only offer refinements of what the message already says ('bébé' → under 2 years)."""
    sets = option.sets
    if "age" in sets and facts.age is not None:
        lo, hi = sets["age"]
        return lo <= facts.age[1] and facts.age[0] <= hi
    if "duration_hours" in sets and facts.duration is not None:
        lo, hi = sets["duration_hours"]
        return lo <= facts.duration[1] and facts.duration[0] <= hi
    if facts.fever is True and ("temperature" in sets or "fever" in sets):
        return sets.get("temperature", 38.0) >= 38.0 and sets.get("fever", True)
    return True


def _with_option(facts: Facts, option: Option) -> Facts:
    copy = facts.copy()
    _apply_sets(copy, option.sets)
    return copy


def pending(facts: Facts, decision: Decision, book: RuleBook) -> list[Question]:
    """The questions whose answer would change the level or the service, in file order."""
    if decision.flags or not decision.outcomes:
        return []
    asked: list[Question] = []
    for question in book.questions:
        if question.engine_asks or question.id in facts.answered or _known(facts, question):
            continue
        if question.ask_if and evaluate(question.ask_if, facts) is False:
            continue
        options = [o for o in question.options if _consistent(facts, o)]
        outcomes = {decide(_with_option(facts, o), book).key for o in options}
        if len(outcomes) > 1:
            asked.append(question)
            if len(asked) >= book.max_questions:
                break
    return asked
