"""The table-driven evaluation: ≥ 200 cases written as a SAMU regulator would answer them.

Fails on ANY case expected `emergency_call` routed below `emergency_department`, and if the share of
appropriate answers drops under 85 %. The figures are printed at the end of the run.
"""

from __future__ import annotations

import pytest

from tests.triage._table import LEVELS, RANK, REPORT_KEY, TABLES, load, run_case, score

ALL_CASES = [(name, case) for name in TABLES for case in load(name)]
EMERGENCIES = [(name, case) for name, case in ALL_CASES if case["expected"] == "emergency_call"]


@pytest.fixture(scope="session")
def scored(request: pytest.FixtureRequest) -> dict:
    results = {name: score(load(name)) for name in TABLES}
    request.config.stash[REPORT_KEY] = {name: stats for name, (_, stats) in results.items()}
    return results


def test_table_is_big_enough() -> None:
    cases = load("cases.yml")
    assert len(cases) >= 200
    assert sum(c["lang"] == "fr" for c in cases) >= 120
    assert sum(c["lang"] == "en" for c in cases) >= 80


def test_table_is_well_formed() -> None:
    for _name, case in ALL_CASES:
        assert case["lang"] in ("fr", "en"), case
        assert case["expected"] in LEVELS, case
        assert all(level in LEVELS for level in case.get("acceptable", [])), case
        assert case["text"].strip(), case


@pytest.mark.parametrize(("table", "case"), EMERGENCIES, ids=[c["text"][:50] for _, c in EMERGENCIES])
def test_no_emergency_is_under_triaged(table: str, case: dict) -> None:
    level = run_case(case)
    assert RANK[level] <= RANK["emergency_department"], f"{table}: {case['text']!r} → {level}"


def test_emergency_department_cases_are_never_sent_home(scored: dict) -> None:
    """An expected ED case routed to the pharmacist or home care is a dangerous miss too."""
    for name, (results, _stats) in scored.items():
        for result in results:
            if result.case["expected"] == "emergency_department":
                assert RANK[result.level] <= RANK["same_day"], f"{name}: {result.case['text']!r} → {result.level}"


def test_accuracy_main_table(scored: dict) -> None:
    results, stats = scored["cases.yml"]
    misses = [(r.case["text"], r.case["expected"], r.level) for r in results if not r.appropriate]
    assert stats["under_triaged_emergencies"] == 0
    assert stats["appropriate"] >= 0.85, misses


@pytest.mark.parametrize("table", ["holdout.yml", "holdout2.yml"])
def test_accuracy_held_out_tables(scored: dict, table: str) -> None:
    _results, stats = scored[table]
    assert stats["under_triaged_emergencies"] == 0
    assert stats["appropriate"] >= 0.85
