"""Evaluating the `when:` conditions of the YAML files, with three-valued logic.

A condition is True, False or None (unknown: depends on a fact we don't have yet, e.g. the age).
Unknown conditions don't fire, unless the rule says `if_unknown: true` (the safe assumption);
they are what makes a follow-up question worth asking.
"""

from __future__ import annotations

from typing import Any

from .facts import Facts

Tri = bool | None

CONCEPT_KEYS = ("all", "any", "none")
RANGE_FACTS = ("age", "pain", "temperature", "duration_hours")
BOOL_FACTS = ("pregnant", "fever", "worsening", "chronic")
KNOWN_KEYS = set(CONCEPT_KEYS) | set(RANGE_FACTS) | set(BOOL_FACTS) | {"sex", "any_of", "unless_denied"}


class ConditionError(ValueError):
    pass


def _and(values: list[Tri]) -> Tri:
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def _or(values: list[Tri]) -> Tri:
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def _range_value(facts: Facts, key: str) -> tuple[float, float] | None:
    if key == "age":
        return facts.age
    if key == "duration_hours":
        return facts.duration
    if key == "pain":
        return None if facts.pain is None else (facts.pain, facts.pain)
    if key == "temperature":
        if facts.temperature is not None:
            return (facts.temperature, facts.temperature)
        if facts.fever is False:
            return (35.0, 37.9)  # "pas de fièvre": below any fever threshold
        return None
    raise ConditionError(key)


def _check_range(spec: dict[str, Any], value: tuple[float, float] | None) -> Tri:
    if value is None:
        result: Tri = None
    else:
        lo, hi = value
        parts: list[Tri] = []
        if "min" in spec:
            parts.append(True if lo >= spec["min"] else False if hi < spec["min"] else None)
        if "below" in spec:
            parts.append(True if hi < spec["below"] else False if lo >= spec["below"] else None)
        result = _and(parts)
    if result is None and "if_unknown" in spec:
        return bool(spec["if_unknown"])
    return result


def _check_value(spec: Any, value: Any) -> Tri:
    """`pregnant: true` or `pregnant: {is: false, if_unknown: true}`; same for sex."""
    expected, if_unknown = (spec.get("is"), spec.get("if_unknown")) if isinstance(spec, dict) else (spec, None)
    if value is None:
        return None if if_unknown is None else bool(if_unknown)
    return value == expected


def evaluate(cond: dict[str, Any] | None, facts: Facts) -> Tri:
    if not cond:
        return True
    parts: list[Tri] = []
    concepts = facts.concepts
    if "all" in cond:
        parts.append(all(c in concepts for c in cond["all"]))
    if "any" in cond:
        parts.append(any(c in concepts for c in cond["any"]))
    if "none" in cond:
        parts.append(not any(c in concepts for c in cond["none"]))
    if "unless_denied" in cond:
        # "piqûre de guêpe, la lèvre gonfle, pas de gêne pour respirer": the patient has ruled
        # out one of the signs that would make it an emergency.
        parts.append(not any(c in facts.negated for c in cond["unless_denied"]))
    if False in parts:
        return False  # concepts are cheap and usually decide; skip the rest
    for key in RANGE_FACTS:
        if key in cond:
            parts.append(_check_range(cond[key], _range_value(facts, key)))
    for key in BOOL_FACTS:
        if key in cond:
            parts.append(_check_value(cond[key], getattr(facts, key)))
    if "sex" in cond:
        parts.append(_check_value(cond["sex"], facts.sex))
    if "any_of" in cond:
        parts.append(_or([evaluate(c, facts) for c in cond["any_of"]]))
    return _and(parts)


def validate(cond: dict[str, Any], concepts: set[str], where: str) -> None:
    """Fail loudly at load time on a typo in a rule file."""
    unknown = set(cond) - KNOWN_KEYS
    if unknown:
        raise ConditionError(f"{where}: unknown condition keys {sorted(unknown)}")
    for key in (*CONCEPT_KEYS, "unless_denied"):
        for concept in cond.get(key, []):
            if concept not in concepts:
                raise ConditionError(f"{where}: unknown concept {concept!r}")
    for key in RANGE_FACTS:
        if key in cond and (not isinstance(cond[key], dict) or not set(cond[key]) <= {"min", "below", "if_unknown"}):
            raise ConditionError(f"{where}: {key} must be {{min, below, if_unknown}}")
    for sub in cond.get("any_of", []):
        validate(sub, concepts, where)
