"""The outbox's settings, from the environment: worker, retries, quiet hours, rate limits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from bot.core.config import cached_settings, env


@dataclass(frozen=True)
class OutboxSettings:
    worker: bool  # run the delivery worker in this back-office process
    poll_seconds: float
    concurrency: int
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    lease_seconds: float  # a row "sending" for longer was interrupted by a dead worker
    quiet_start: time | None
    quiet_end: time | None
    quiet_channels: frozenset[str]
    timezone: str
    rate_limits: dict[str, float]  # messages per second, per channel, per back-office instance


def _quiet_hours(value: str) -> tuple[time | None, time | None]:
    """"21:00-08:00" → (21:00, 08:00); "" or "off" → no quiet hours."""
    if not value or value.lower() in {"off", "none", "0"}:
        return None, None
    start, _, end = value.partition("-")
    return time.fromisoformat(start.strip()), time.fromisoformat(end.strip())


def _rates(value: str) -> dict[str, float]:
    rates = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        channel, _, rate = item.partition("=")
        rates[channel.strip()] = float(rate)
    return rates


@cached_settings
def outbox_settings() -> OutboxSettings:
    quiet_start, quiet_end = _quiet_hours(env("OUTBOX_QUIET_HOURS", "21:00-08:00"))
    return OutboxSettings(
        worker=env("OUTBOX_WORKER", "1") not in {"0", "false", "no"},
        poll_seconds=float(env("OUTBOX_POLL_SECONDS", "1")),
        concurrency=max(1, int(env("OUTBOX_CONCURRENCY", "8"))),
        max_attempts=max(1, int(env("OUTBOX_MAX_ATTEMPTS", "10"))),
        retry_base_seconds=float(env("OUTBOX_RETRY_BASE_SECONDS", "5")),
        retry_max_seconds=float(env("OUTBOX_RETRY_MAX_SECONDS", "900")),
        lease_seconds=float(env("OUTBOX_LEASE_SECONDS", "120")),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        quiet_channels=frozenset(c.strip() for c in env("OUTBOX_QUIET_CHANNELS", "sms,telegram").split(",") if c),
        timezone=env("OUTBOX_TIMEZONE", "Europe/Paris"),
        # Telegram allows ~30 messages/s per bot; Twilio queues beyond its per-number rate.
        rate_limits=_rates(env("OUTBOX_RATE_LIMITS", "telegram=25,sms=10")),
    )
