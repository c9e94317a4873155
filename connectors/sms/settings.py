"""The SMS provider's settings (Twilio, or `log` for development), from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.config import cached_settings, env


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


@cached_settings
def sms_settings() -> SmsSettings:
    account_sid = env("TWILIO_ACCOUNT_SID")
    return SmsSettings(
        provider=env("SMS_PROVIDER", "twilio" if account_sid else "log"),
        account_sid=account_sid,
        auth_token=env("TWILIO_AUTH_TOKEN"),
        from_number=env("TWILIO_FROM_NUMBER"),
        messaging_service_sid=env("TWILIO_MESSAGING_SERVICE_SID"),
        api_base_url=env("TWILIO_API_BASE_URL", "https://api.twilio.com"),
        public_url=env("PARCOURS_PUBLIC_URL"),
        max_segments=max(1, int(env("SMS_MAX_SEGMENTS", "4"))),
    )
