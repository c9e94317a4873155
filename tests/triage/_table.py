"""Loading and scoring the triage tables (cases.yml, holdout.yml, holdout2.yml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.triage import LEVELS, triage

HERE = Path(__file__).resolve().parent
RANK = {level: i for i, level in enumerate(LEVELS)}
TABLES = ("cases.yml", "holdout.yml", "holdout2.yml")
REPORT_KEY = pytest.StashKey[dict[str, Any]]()


def load(name: str) -> list[dict[str, Any]]:
    with open(HERE / name, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert data.get("version"), f"{name} needs a version"
    return list(data["cases"])


def run_case(case: dict[str, Any]) -> str:
    return triage(case["text"], age=case.get("age"), sex=case.get("sex")).level


@dataclass
class Scored:
    case: dict[str, Any]
    level: str

    @property
    def acceptable(self) -> list[str]:
        return [self.case["expected"], *self.case.get("acceptable", [])]

    @property
    def appropriate(self) -> bool:
        return self.level in self.acceptable

    @property
    def under(self) -> bool:
        """Less urgent than every acceptable level."""
        return RANK[self.level] > max(RANK[level] for level in self.acceptable)

    @property
    def over(self) -> bool:
        return RANK[self.level] < min(RANK[level] for level in self.acceptable)


def score(cases: list[dict[str, Any]]) -> tuple[list[Scored], dict[str, Any]]:
    scored = [Scored(case, run_case(case)) for case in cases]
    total = len(scored)
    stats = {
        "total": total,
        "fr": sum(c["lang"] == "fr" for c in cases),
        "en": sum(c["lang"] == "en" for c in cases),
        "appropriate": sum(s.appropriate for s in scored) / total,
        "exact": sum(s.level == s.case["expected"] for s in scored) / total,
        "under": sum(s.under for s in scored),
        "over": sum(s.over for s in scored),
        "under_triaged_emergencies": sum(
            s.case["expected"] == "emergency_call" and RANK[s.level] > RANK["emergency_department"] for s in scored
        ),
    }
    return scored, stats
