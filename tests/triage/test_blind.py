"""The blind corpus (tests/triage/blind/): written by helpers who never saw the rules, checked by
another from an emergency physician's point of view, and split once and for all into a dev part
and a frozen test part (blind_eval.part_of). Its scores are printed apart at the end of the run.

The floors below are the measured scores at the time they were set, so that no change makes the
engine worse on messages nobody here wrote; they are not the targets (0 under-triaged
emergencies), which are not reached yet: README "Triage safety" gives the figures.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bot.triage import LEVELS
from tests.triage.blind_eval import load, score, summary

BLIND_KEY = pytest.StashKey[dict[str, Any]]()

# Measured 2026-11-30 (README "Triage safety"); raise them as the engine improves.
FLOORS = {
    "dev": {"under_triaged_emergencies": 31, "kept_out_of_emergency": 0.93, "suicide_with_3114": 0.93},
    "test": {"under_triaged_emergencies": 104, "kept_out_of_emergency": 0.88, "suicide_with_3114": 0.83},
}
CASES = load()


@pytest.fixture(scope="module")
def scored(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    results = {part: summary(score([c for c in CASES if c["part"] == part])) for part in ("dev", "test")}
    request.config.stash[BLIND_KEY] = results
    return results


def test_the_corpus_is_big_enough_and_well_formed() -> None:
    assert len(CASES) >= 1000
    assert sum(c["lang"] == "fr" for c in CASES) >= 0.6 * len(CASES)
    assert sum(c["part"] == "test" for c in CASES) >= 0.4 * len(CASES)
    assert len({c["id"] for c in CASES}) == len(CASES)
    for case in CASES:
        assert case["lang"] in ("fr", "en") and case["text"].strip(), case["id"]
        assert case["expected"] in LEVELS, case["id"]
        assert all(level in LEVELS for level in case.get("acceptable") or []), case["id"]
        assert all(isinstance(n, str) for n in case.get("numbers") or []), case["id"]


def test_every_situation_of_the_issue_is_in_both_parts() -> None:
    by_part = {part: Counter(c["category"] for c in CASES if c["part"] == part) for part in ("dev", "test")}
    for category in ("suicide", "cardiac_arrest", "stroke", "chest_pain", "infant", "pregnancy", "poisoning",
                     "negated_or_past", "hypothetical_question", "admin_appointment"):
        assert by_part["dev"][category] and by_part["test"][category], category


@pytest.mark.parametrize("part", ["dev", "test"])
def test_no_regression_on_the_blind_corpus(scored: dict[str, dict[str, Any]], part: str) -> None:
    stats, floor = scored[part], FLOORS[part]
    assert stats["under_triaged_emergencies"] <= floor["under_triaged_emergencies"], stats
    assert stats["kept_out_of_emergency"] >= floor["kept_out_of_emergency"], stats
    assert stats["suicide_with_3114"] >= floor["suicide_with_3114"] * stats["suicide"], stats
