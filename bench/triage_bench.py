"""Latency of the triage engine per patient message (target: p95 ≤ 20 ms on 2 noisy cores).

    .venv-app/bin/python -m bench.triage_bench [n]

Every call is measured cold for the message (the per-message caches are cleared), warm for the
process (rules loaded, edsnlp pipeline built, as after `warm_up()` at start-up).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any, Callable

from bot.triage import red_flags_in, triage, warm_up
from bot.triage.analysis import analyse
from bot.triage.text import _tokenize_cached

FILLER_FR = (
    "Bonjour, je vous écris parce que je ne sais pas trop quoi faire, mon médecin est en vacances et "
    "je n'arrive pas à joindre le cabinet. Depuis quelques jours je suis fatigué, je dors mal, "
)
FILLER_EN = (
    "Hello, I'm writing because I'm not sure what to do, my GP is away and I can't reach the surgery. "
    "For a few days I've been tired and sleeping badly, "
)

MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("douleur thoracique + transpi depuis 20 min", {}),
    ("J'ai une douleur dans la poitrine qui serre et je transpire beaucoup", {}),
    ("jai mal o ventre depuis hier soir", {}),
    ("Mon bébé de 6 semaines a 38,5 de fièvre", {}),
    ("je n'ai pas de douleur à la poitrine, juste le nez qui coule", {}),
    ("si j'ai de la fièvre après l'opération, qui appeler ?", {}),
    ("mon père a fait un AVC l'an dernier, je voudrais un bilan", {}),
    ("Ma mère a la bouche de travers et n'arrive plus à parler", {}),
    ("mal de gorge depuis 2 jours", {"answers": {"age_group": "16_39", "fever": "38,5"}}),
    ("J'ai de la fièvre", {"answers": {"age_group": "45", "duration": "depuis hier", "fever": "39"}}),
    ("Je tousse depuis 5 semaines, pas de fièvre", {}),
    ("J'ai besoin d'un renouvellement d'ordonnance", {}),
    ("I have crushing chest pain and I'm sweating", {}),
    ("no chest pain, just a runny nose", {"age": 30}),
    ("if I get a fever after my surgery what should I do", {}),
    ("my father had a stroke, I'd like a check-up", {}),
    ("My 2 year old has an earache and a fever of 39", {}),
    ("stomach ache for 2 days, getting worse", {"answers": {"pain_intensity": "8/10"}}),
    ("cant breathe properly chest tight pls help", {}),
    ("I want to kill myself", {}),
    ("twisted my ankle, a bit swollen but I can walk on it", {"age": 25}),
    ("😀😀😀", {}),
    ("", {}),
    ("asdkjh qwe zzz", {}),
    (FILLER_FR * 6 + "et ce matin j'ai mal à la poitrine.", {}),  # ~1,200 characters
    (FILLER_EN * 8 + "and this morning my chest hurts.", {}),
    ((FILLER_FR * 30)[:5200] + " j'ai de la fièvre depuis 3 jours.", {}),  # > 5,000 characters
    ((FILLER_EN * 40)[:5200] + " my baby has a fever of 38.5.", {}),
]


def _clear_message_caches() -> None:
    analyse.cache_clear()
    _tokenize_cached.cache_clear()


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return round(ordered[index], 3)

    return {
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def _measure(n: int, call: Callable[[str, dict[str, Any]], object], messages: list[tuple[str, dict[str, Any]]]) -> list[float]:
    samples = []
    for i in range(n):
        text, kwargs = messages[i % len(messages)]
        _clear_message_caches()
        start = time.perf_counter()
        call(text, kwargs)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def run(n: int = 500) -> dict[str, Any]:
    """Per-message latency in milliseconds of `triage()` and of the red-flag screen."""
    start = time.perf_counter()
    warm_up()
    warm_up_s = time.perf_counter() - start
    triage_ms = _measure(n, lambda text, kw: triage(text, **kw), MESSAGES)
    screen_ms = _measure(n, lambda text, kw: red_flags_in(text), MESSAGES)
    long_messages = [m for m in MESSAGES if len(m[0]) > 1000]
    long_ms = _measure(max(len(long_messages), n // 10), lambda text, kw: triage(text, **kw), long_messages)
    return {
        "n": n,
        "messages": len(MESSAGES),
        "warm_up_s": round(warm_up_s, 2),
        "triage_ms": _percentiles(triage_ms),
        "screen_ms": _percentiles(screen_ms),
        "long_message_triage_ms": _percentiles(long_ms),
        "target_p95_ms": 20,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    print(json.dumps(run(count), indent=2))
