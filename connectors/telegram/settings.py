"""Telegram's settings, from the environment. Without a token and a webhook secret the webhook answers
503 and the rest of Parcours runs as usual."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.config import cached_settings, env


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


@cached_settings
def telegram_settings() -> TelegramSettings:
    return TelegramSettings(
        token=env("TELEGRAM_BOT_TOKEN"),
        webhook_secret=env("TELEGRAM_WEBHOOK_SECRET"),
        api_base_url=env("TELEGRAM_API_BASE_URL", "https://api.telegram.org"),
    )
