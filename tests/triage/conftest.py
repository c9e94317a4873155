"""Shared fixtures of the triage tests, and the accuracy report printed at the end of the run."""

from __future__ import annotations

from typing import Any

import pytest

from tests.triage._table import REPORT_KEY


@pytest.fixture(scope="session", autouse=True)
def _warm_triage() -> None:
    """Load the rules and the edsnlp pipeline once for the whole session."""
    from bot.triage import warm_up

    warm_up()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    from tests.triage.test_blind import BLIND_KEY

    blind = config.stash.get(BLIND_KEY, None)
    if blind:
        terminalreporter.section("triage blind corpus (written without the rules; test part frozen)")
        for part, stats in blind.items():
            terminalreporter.write_line(
                f"{part}: {stats['cases']} cases — appropriate {stats['appropriate']:.1%}, emergencies "
                f"under-triaged {stats['under_triaged_emergencies']}/{stats['emergencies']} (a confirming "
                f"question asked for {stats['under_but_asked']}), non-emergencies kept out of emergency care "
                f"{stats['kept_out_of_emergency']:.1%}, suicidal messages with 3114 "
                f"{stats['suicide_with_3114']}/{stats['suicide']}"
            )
    report = config.stash.get(REPORT_KEY, None)
    if not report:
        return
    terminalreporter.section("triage table")
    for name, stats in report.items():
        terminalreporter.write_line(
            f"{name}: {stats['total']} cases (fr {stats['fr']}, en {stats['en']}) — appropriate "
            f"{stats['appropriate']:.1%}, exact level {stats['exact']:.1%}, emergencies under-triaged "
            f"{stats['under_triaged_emergencies']}, over-triaged {stats['over']}, under-triaged {stats['under']}"
        )
