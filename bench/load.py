"""A load generator: N simulated patients, each going through multi-turn conversations."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from connectors.web.sessions import mint

Send = Callable[[httpx.AsyncClient, str, str], Awaitable[bool]]


@dataclass
class LoadResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    @property
    def turns(self) -> int:
        return len(self.latencies_ms)

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]

    async def record(self, turn: Awaitable[bool]) -> None:
        """Times one turn; a failed or refused turn counts as an error, not as a latency."""
        started = time.perf_counter()
        try:
            ok = await turn
        except httpx.HTTPError:
            ok = False
        if ok:
            self.latencies_ms.append((time.perf_counter() - started) * 1000)
        else:
            self.errors += 1

    def summary(self) -> dict[str, float]:
        return {
            "turns": self.turns,
            "errors": self.errors,
            "turns_per_s": round(self.turns / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(self.percentile(50), 1),
            "p95_ms": round(self.percentile(95), 1),
            "p99_ms": round(self.percentile(99), 1),
            "mean_ms": round(statistics.fmean(self.latencies_ms), 1) if self.latencies_ms else float("nan"),
        }


async def run_load(send: Send, conversations: Sequence[Sequence[str]], patients: int, rounds: int,
                   sender_prefix: str) -> LoadResult:
    """Each patient plays `rounds` conversations in turn (a new sender each time), all patients at once.
    The senders are web sessions signed as the back office signs them, which the stock engine takes
    as any other id; `sender_prefix` only names the run for the callers."""
    result = LoadResult()
    limits = httpx.Limits(max_connections=patients * 2, max_keepalive_connections=patients * 2)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def patient(number: int) -> None:
            for round_ in range(rounds):
                script = conversations[(number + round_) % len(conversations)]
                # The back office takes only web sessions it signed (connectors/web/sessions.py): the
                # bench signs its own with the same key rather than meet the limit on new sessions.
                sender = mint()
                for text in script:
                    await result.record(send(client, sender, text))

        started = time.perf_counter()
        await asyncio.gather(*(patient(n) for n in range(patients)))
        result.seconds = time.perf_counter() - started
    return result
