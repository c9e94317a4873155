"""Counters of requests per key (a client address, a session) in fixed windows, for this process.

Kept in memory: a limit meant to stop a script reading or minting in bulk does not need to be exact
across back-office instances, and an attacker's keys must not grow the table without bound, so
windows that have ended are forgotten as the table grows.
"""

from __future__ import annotations

import math
import time

MAX_KEYS = 100_000


class Limiter:
    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._counts: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> int | None:
        """Counts one request; None when allowed, else the seconds to wait (for Retry-After)."""
        now = time.monotonic()
        start, count = self._counts.get(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        if count >= self.limit:
            return max(1, math.ceil(start + self.window - now))
        if key not in self._counts and len(self._counts) >= MAX_KEYS:
            self._forget_ended(now)
        self._counts[key] = (start, count + 1)
        return None

    def _forget_ended(self, now: float) -> None:
        self._counts = {k: v for k, v in self._counts.items() if now - v[0] < self.window}
        if len(self._counts) >= MAX_KEYS:  # all live: drop the oldest half rather than grow
            keep = sorted(self._counts.items(), key=lambda item: item[1][0])[len(self._counts) // 2:]
            self._counts = dict(keep)

    def reset(self) -> None:
        self._counts.clear()


class _Reads:
    """The limits on reading a conversation (the history endpoint and the socket's hello) and on
    minting sessions, from connectors/web/sessions.yml."""

    def __init__(self) -> None:
        from connectors.web.sessions import limit

        self.per_session = Limiter(*limit("history_per_session"))
        self.per_address = Limiter(*limit("history_per_address"))
        self.new_sessions = Limiter(*limit("new_sessions_per_address"))

    def history(self, session_id: str, address: str | None) -> int | None:
        waits = [self.per_session.hit(session_id), self.per_address.hit(address or "-")]
        return max((w for w in waits if w is not None), default=None)

    def mint(self, address: str | None) -> int | None:
        return self.new_sessions.hit(address or "-")

    def reset(self) -> None:
        for limiter in (self.per_session, self.per_address, self.new_sessions):
            limiter.reset()


reads = _Reads()
