"""Settings of the patient channels and of the outbox, read from the environment.

Every channel is optional: without its credentials its webhook answers 503 and the rest of
Parcours runs as usual (`make run` needs none of them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import time
from functools import lru_cache


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@dataclass(frozen=True)
class TelegramSettings:
    token: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    api_base_url: str  # Telegram's Bot API, or a local fake / self-hosted Bot API server

    @property
    def configured(self) -> bool:
        return bool(self.token and self.webhook_secret)

    @property
    def bot_base_url(self) -> str:
        return self.api_base_url.rstrip("/") + "/bot"


@dataclass(frozen=True)
class SmsSettings:
    provider: str  # "twilio" or "log"
    account_sid: str
    auth_token: str = field(repr=False)
    from_number: str
    messaging_service_sid: str
    api_base_url: str
    public_url: str  # the back office's URL as Twilio sees it: signatures are computed over it
    max_segments: int  # segments one SMS may use before the text is split into several SMS

    @property
    def webhook_configured(self) -> bool:
        return bool(self.auth_token and self.public_url)

    @property
    def webhook_url(self) -> str:
        return self.public_url.rstrip("/") + "/webhooks/sms"

    @property
    def status_url(self) -> str:
        return self.public_url.rstrip("/") + "/webhooks/sms/status"


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


@lru_cache
def telegram_settings() -> TelegramSettings:
    return TelegramSettings(
        token=_env("TELEGRAM_BOT_TOKEN"),
        webhook_secret=_env("TELEGRAM_WEBHOOK_SECRET"),
        api_base_url=_env("TELEGRAM_API_BASE_URL", "https://api.telegram.org"),
    )


@lru_cache
def sms_settings() -> SmsSettings:
    account_sid = _env("TWILIO_ACCOUNT_SID")
    return SmsSettings(
        provider=_env("SMS_PROVIDER", "twilio" if account_sid else "log"),
        account_sid=account_sid,
        auth_token=_env("TWILIO_AUTH_TOKEN"),
        from_number=_env("TWILIO_FROM_NUMBER"),
        messaging_service_sid=_env("TWILIO_MESSAGING_SERVICE_SID"),
        api_base_url=_env("TWILIO_API_BASE_URL", "https://api.twilio.com"),
        public_url=_env("PARCOURS_PUBLIC_URL"),
        max_segments=max(1, int(_env("SMS_MAX_SEGMENTS", "4"))),
    )


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


@lru_cache
def outbox_settings() -> OutboxSettings:
    quiet_start, quiet_end = _quiet_hours(_env("OUTBOX_QUIET_HOURS", "21:00-08:00"))
    return OutboxSettings(
        worker=_env("OUTBOX_WORKER", "1") not in {"0", "false", "no"},
        poll_seconds=float(_env("OUTBOX_POLL_SECONDS", "1")),
        concurrency=max(1, int(_env("OUTBOX_CONCURRENCY", "8"))),
        max_attempts=max(1, int(_env("OUTBOX_MAX_ATTEMPTS", "10"))),
        retry_base_seconds=float(_env("OUTBOX_RETRY_BASE_SECONDS", "5")),
        retry_max_seconds=float(_env("OUTBOX_RETRY_MAX_SECONDS", "900")),
        lease_seconds=float(_env("OUTBOX_LEASE_SECONDS", "120")),
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        quiet_channels=frozenset(c.strip() for c in _env("OUTBOX_QUIET_CHANNELS", "sms,telegram").split(",") if c),
        timezone=_env("OUTBOX_TIMEZONE", "Europe/Paris"),
        # Telegram allows ~30 messages/s per bot; Twilio queues beyond its per-number rate.
        rate_limits=_rates(_env("OUTBOX_RATE_LIMITS", "telegram=25,sms=10")),
    )


def reset() -> None:
    """Forget cached settings (tests change the environment)."""
    telegram_settings.cache_clear()
    sms_settings.cache_clear()
    outbox_settings.cache_clear()
