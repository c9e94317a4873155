"""Latency of the triage engine per patient message (target: p95 ≤ 20 ms on 2 noisy cores).

    .venv-app/bin/python -m bench.triage_bench [n]

Every call is measured cold for the message (the per-message caches are cleared), warm for the
process (rules loaded, edsnlp pipeline built, as after `warm_up()` at start-up).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from bot.triage import screen_message, triage, warm_up
from bot.triage.analysis import analyse
from bot.triage.text import _tokenize_cached

# Long messages are built from varied sentences (a patient telling their story), not one sentence
# repeated, so that the cost measured is the cost of a real long message.
STORY_FR = [
    "Bonjour, je vous écris parce que je ne sais pas trop quoi faire.",
    "Mon médecin traitant est en vacances et je n'arrive pas à joindre le cabinet.",
    "Depuis quelques jours je suis fatigué et je dors mal.",
    "Je n'ai pas de fièvre, je l'ai prise hier soir, 37,2.",
    "J'ai un peu toussé la semaine dernière mais ça va mieux.",
    "Ma femme me dit que je suis pâle, mais je pense que c'est le stress du travail.",
    "J'ai pris un doliprane ce matin, ça n'a pas changé grand-chose.",
    "Je n'ai pas de douleur à la poitrine et je respire bien.",
    "Mon père a fait un infarctus il y a dix ans, donc je m'inquiète un peu.",
    "Je mange normalement, pas de nausées, pas de vomissements.",
    "J'ai parfois mal au dos quand je reste assis longtemps au bureau.",
    "Si jamais j'ai de la fièvre ce soir, est-ce que je dois rappeler ?",
    "Je voudrais savoir si je dois prendre rendez-vous ou attendre.",
    "Je suis diabétique, mais ma glycémie est bien équilibrée en ce moment.",
    "Hier j'ai marché une heure sans problème.",
    "Je ne fume pas et je bois très peu d'alcool.",
]
STORY_EN = [
    "Hello, I'm writing because I'm not sure what to do.",
    "My GP is on holiday and I can't get through to the practice.",
    "For a few days I've been tired and sleeping badly.",
    "I don't have a fever, I checked last night, 37.1.",
    "I had a bit of a cough last week but it's better now.",
    "My wife says I look pale but I think it's stress at work.",
    "I took some paracetamol this morning, it didn't change much.",
    "No chest pain and my breathing is fine.",
    "My father had a heart attack ten years ago so I'm a little worried.",
    "I'm eating normally, no nausea, no vomiting.",
    "Sometimes my back aches when I sit at my desk for too long.",
    "If I get a fever tonight should I contact you again?",
    "I'd like to know whether to book an appointment or wait.",
    "I'm diabetic but my sugars have been well controlled lately.",
    "Yesterday I walked for an hour without any trouble.",
    "I don't smoke and I drink very little.",
]


def _story(sentences: list[str], chars: int, ending: str, seed: int) -> str:
    rng = random.Random(seed)
    parts: list[str] = []
    while sum(len(p) + 1 for p in parts) < chars:
        parts.append(rng.choice(sentences))
    return " ".join(parts) + " " + ending


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
    (_story(STORY_FR, 1200, "Et ce matin j'ai mal à la poitrine.", 1), {}),
    (_story(STORY_EN, 1200, "And this morning my chest hurts.", 2), {}),
    (_story(STORY_FR, 5200, "J'ai de la fièvre depuis 3 jours.", 3), {}),  # > 5,000 characters
    (_story(STORY_EN, 5200, "My baby has a fever of 38.5.", 4), {}),
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


def _measure(
    n: int, call: Callable[[str, dict[str, Any]], object], messages: list[tuple[str, dict[str, Any]]]
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per call. On a shared machine the wall clock includes
    waiting for a core; the CPU time is the engine's own cost."""
    wall, cpu = [], []
    for i in range(n):
        text, kwargs = messages[i % len(messages)]
        _clear_message_caches()
        start, start_cpu = time.perf_counter(), time.thread_time()
        call(text, kwargs)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.thread_time() - start_cpu) * 1000)
    return wall, cpu


def run(n: int = 500) -> dict[str, Any]:
    """Per-message latency in milliseconds of `triage()` and of the red-flag screen."""
    start = time.perf_counter()
    warm_up()
    warm_up_s = time.perf_counter() - start
    triage_ms, triage_cpu = _measure(n, lambda text, kw: triage(text, **kw), MESSAGES)
    # The screen the message path runs: red flags, then (when none is urgent) the recall net.
    screen_ms, screen_cpu = _measure(n, lambda text, kw: screen_message(text), MESSAGES)
    long_messages = [m for m in MESSAGES if len(m[0]) > 1000]
    long_ms, long_cpu = _measure(max(len(long_messages), n // 10), lambda text, kw: triage(text, **kw), long_messages)
    return {
        "n": n,
        "messages": len(MESSAGES),
        "long_messages": len(long_messages),
        "warm_up_s": round(warm_up_s, 2),
        "triage_ms": _percentiles(triage_ms),
        "triage_cpu_ms": _percentiles(triage_cpu),
        "screen_ms": _percentiles(screen_ms),
        "screen_cpu_ms": _percentiles(screen_cpu),
        "long_message_triage_ms": _percentiles(long_ms),
        "long_message_triage_cpu_ms": _percentiles(long_cpu),
        "target_p95_ms": 20,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    print(json.dumps(run(count), indent=2))
