"""Settings of phone verification: where codes may be sent and how many, read from the environment.

A code SMS is paid by the hospital and goes to a number a stranger typed: the limits are what keeps
an open chat from becoming a way to text the world at the hospital's expense (SMS pumping).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config import cached_settings, env

# France and its overseas departments (Guadeloupe, Martinique, Guyane, La Réunion, Mayotte): the
# patients of a French hospital, wherever their mobile was issued in the national numbering plan.
# Premium-rate and international ranges are where toll fraud pays, and none of them is here.
DEFAULT_REGIONS = "FR,GP,MQ,GF,RE,YT"

# Integrations on the `api` channel are systems, not patients holding a phone: only a patient in the
# web chat, on Telegram or by SMS links a number.
LINKABLE_CHANNELS = frozenset({"web", "sms", "telegram"})


@dataclass(frozen=True)
class VerificationSettings:
    regions: tuple[str, ...]  # ISO 3166 regions whose mobiles may receive a code; national numbers are read as the first's
    per_conversation_hour: int  # a patient who mistypes twice still gets a third try
    per_number_hour: int  # nobody can flood a stranger's phone
    client_hour: int  # per client address: a script opening a new conversation per request
    client_day: int
    global_hour: int  # what the whole hospital may spend on codes
    global_day: int
    alert_ratio: float  # share of the global budget at which operators are warned


def _regions(value: str) -> tuple[str, ...]:
    regions = tuple(dict.fromkeys(part.strip().upper() for part in value.split(",") if part.strip()))
    if not regions or any(len(region) != 2 or not region.isalpha() for region in regions):
        raise ValueError(f"PHONE_VERIFICATION_REGIONS must be ISO 3166 codes separated by commas, not {value!r}")
    return regions


def _count(name: str, default: int) -> int:
    value = int(env(name, str(default)))
    if value < 0:
        raise ValueError(f"{name} must be 0 or more, not {value}")
    return value


def _ratio(value: str) -> float:
    ratio = float(value)
    if not 0 < ratio <= 1:
        raise ValueError(f"PHONE_CODES_ALERT_RATIO must be more than 0 and at most 1, not {value!r}")
    return ratio


@cached_settings
def verification_settings() -> VerificationSettings:
    return VerificationSettings(
        regions=_regions(env("PHONE_VERIFICATION_REGIONS", DEFAULT_REGIONS)),
        per_conversation_hour=_count("PHONE_CODES_PER_CONVERSATION_HOUR", 3),
        per_number_hour=_count("PHONE_CODES_PER_NUMBER_HOUR", 3),
        # A household, a ward's tablet or the hospital's guest Wi-Fi puts several patients behind one
        # address: ten codes an hour is more than they link, a thousandth of what a script asks for.
        client_hour=_count("PHONE_CODES_PER_CLIENT_HOUR", 10),
        client_day=_count("PHONE_CODES_PER_CLIENT_DAY", 30),
        # A large hospital links perhaps a hundred patients on a busy day; a thousand codes a day would
        # cost a few tens of euros at worst, and stop a pumping attack long before it costs more.
        global_hour=_count("PHONE_CODES_PER_HOUR", 100),
        global_day=_count("PHONE_CODES_PER_DAY", 1000),
        alert_ratio=_ratio(env("PHONE_CODES_ALERT_RATIO", "0.8")),
    )
