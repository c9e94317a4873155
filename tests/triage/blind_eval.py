"""Scoring the triage engine on the blind corpus (tests/triage/blind/*.yml).

The corpus was written by helpers who never saw the rules, the lexicon or the earlier tables,
from a description of the situations only; each case's expected level is an emergency
physician's call on the French pathway. Every case is assigned once and for all, from a hash of
its id, to the *dev* part (rules may be mended from its misses) or the frozen *test* part
(never looked at case by case while changing the rules; only its scores are read). The split is
by hash so that adding cases never moves an old case from one part to the other.

    python -m tests.triage.blind_eval            # scores per part, file, category and style
    python -m tests.triage.blind_eval --misses dev   # the dev part's misses, to mend the rules
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.triage import LEVELS, TriageResult, triage

HERE = Path(__file__).resolve().parent / "blind"
RANK = {level: i for i, level in enumerate(LEVELS)}
EMERGENCY = {"emergency_call", "emergency_department"}
TEST_SHARE = 45  # percent of the cases in the frozen test part (the issue asks for at least 40)


def part_of(case_id: str) -> str:
    digest = hashlib.sha256(case_id.encode()).digest()
    return "test" if digest[0] * 100 // 256 < TEST_SHARE else "dev"


def load(files: list[Path] | None = None) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in files or sorted(HERE.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            case = dict(case)
            case["file"] = path.stem
            case["part"] = part_of(case["id"])
            cases.append(case)
    ids = [c["id"] for c in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate case ids: {sorted(duplicates)[:5]}")
    return cases


def run(case: dict[str, Any]) -> TriageResult:
    age = case.get("age_years")
    if case.get("age_months") is not None:
        age = float(case["age_months"]) / 12
    return triage(case["text"], age=age)


@dataclass
class Scored:
    case: dict[str, Any]
    result: TriageResult

    @property
    def level(self) -> str:
        return self.result.level

    @property
    def acceptable(self) -> list[str]:
        return [self.case["expected"], *(self.case.get("acceptable") or [])]

    @property
    def appropriate(self) -> bool:
        return self.level in self.acceptable

    @property
    def emergency_expected(self) -> bool:
        return self.case["expected"] in EMERGENCY

    @property
    def under_triaged_emergency(self) -> bool:
        """An expected emergency answered below the emergency department."""
        return self.emergency_expected and RANK[self.level] > RANK["emergency_department"]

    @property
    def confirm_asked(self) -> bool:
        """The engine asks the patient to confirm an emergency (recall net or a questioned sign)."""
        return any(q.id in ("confirm_now", "suicide_thoughts") for q in self.result.follow_up_questions)

    @property
    def call_missed(self) -> bool:
        """Expected 15 and no acceptable level at call: answered below it."""
        return (
            self.case["expected"] == "emergency_call"
            and "emergency_department" not in self.acceptable
            and self.level != "emergency_call"
        )

    @property
    def lookalike_kept_out(self) -> bool | None:
        """For a case no emergency level fits: kept out of the emergency levels?"""
        if set(self.acceptable) & EMERGENCY:
            return None
        return self.level not in EMERGENCY

    @property
    def numbers_given(self) -> bool:
        given = {n.number for n in self.result.emergency_numbers}
        for flag in self.result.flags:
            given.update(flag.numbers)
        return all(str(n) in given for n in self.case.get("numbers") or [])

    @property
    def suicide_answered(self) -> bool | None:
        if self.case.get("category") != "suicide":
            return None
        return "3114" in {n.number for n in self.result.emergency_numbers}


def score(cases: list[dict[str, Any]]) -> list[Scored]:
    return [Scored(case, run(case)) for case in cases]


def summary(scored: list[Scored]) -> dict[str, Any]:
    n = len(scored)
    emergencies = [s for s in scored if s.emergency_expected]
    lookalikes = [s for s in scored if s.lookalike_kept_out is not None]
    suicide = [s for s in scored if s.suicide_answered is not None]
    return {
        "cases": n,
        "appropriate": sum(s.appropriate for s in scored) / n if n else 0.0,
        "emergencies": len(emergencies),
        "under_triaged_emergencies": sum(s.under_triaged_emergency for s in emergencies),
        "under_but_asked": sum(s.under_triaged_emergency and s.confirm_asked for s in emergencies),
        "call_missed": sum(s.call_missed for s in scored),
        "non_emergencies": len(lookalikes),
        "kept_out_of_emergency": (sum(bool(s.lookalike_kept_out) for s in lookalikes) / len(lookalikes)) if lookalikes else 1.0,
        "lookalikes_asked": sum(s.confirm_asked for s in lookalikes),
        "suicide": len(suicide),
        "suicide_with_3114": sum(bool(s.suicide_answered) for s in suicide),
        "numbers_given": sum(s.numbers_given for s in scored) / n if n else 0.0,
    }


def _line(name: str, stats: dict[str, Any]) -> str:
    return (
        f"{name:<28} {stats['cases']:>5} {stats['appropriate']:>7.1%} "
        f"{stats['under_triaged_emergencies']:>4}/{stats['emergencies']:<4} ({stats['under_but_asked']:>2} asked) {stats['call_missed']:>5} "
        f"{stats['kept_out_of_emergency']:>7.1%} ({stats['non_emergencies']:>3}, {stats['lookalikes_asked']:>2} asked) "
        f"{stats['suicide_with_3114']:>3}/{stats['suicide']:<3} {stats['numbers_given']:>7.1%}"
    )


HEADER = f"{'':<28} {'cases':>5} {'approp':>7} {'under/emerg (confirm asked)':>21} {'15miss':>5} {'kept out':>7} {'(n, confirm asked)':>17} {'3114':>7} {'numbers':>7}"


def report(scored: list[Scored], by: str) -> list[str]:
    groups: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        groups[str(s.case.get(by))].append(s)
    return [_line(f"  {key}", summary(group)) for key, group in sorted(groups.items())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", choices=["dev"], help="list the dev part's misses (never the test part's)")
    parser.add_argument("--by", default="category,file", help="breakdowns, comma-separated (category, file, style, lang)")
    args = parser.parse_args(argv)
    cases = load()
    scored = score(cases)
    for part in ("dev", "test"):
        group = [s for s in scored if s.case["part"] == part]
        print(f"\n== {part} part ==\n{HEADER}")
        print(_line("all", summary(group)))
        for lang in ("fr", "en"):
            print(_line(f"  lang {lang}", summary([s for s in group if s.case["lang"] == lang])))
        for by in args.by.split(","):
            if by and by != "lang":
                print(f" by {by}:")
                print("\n".join(report(group, by)))
    if args.misses == "dev":
        print("\n== dev misses ==")
        for s in scored:
            if s.case["part"] != "dev" or s.appropriate:
                continue
            tag = "UNDER" if s.under_triaged_emergency else ("OVER" if RANK[s.level] < RANK[s.case["expected"]] else "miss")
            print(f"{tag:5} {s.case['id']:<9} exp={s.case['expected']:<20} got={s.level:<20} flags={s.result.red_flags} | {s.case['text'][:300]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
