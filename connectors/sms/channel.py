"""SMS: Twilio-compatible webhook in, messages out through the outbox and a small provider interface.

- Replies go out through the provider's REST API (via the outbox), not as TwiML in the webhook's
  answer: one path for every outbound SMS, so replies get retries, rate limits, delivery receipts
  and a status in the back office, and any provider with a REST API fits behind `SmsProvider`.
  The webhook answers an empty <Response/>.
- Quick replies become numbered options; "2" picks the second of the options last sent
  (remembered per conversation in the database, forgotten once the patient writes again).
- Texts are split at segment boundaries: GSM-7 (160 characters, 153 a segment when concatenated;
  ^{}[]~|€\\ count twice) unless a character outside GSM-7 forces UCS-2 (70, then 67 a segment) —
  most French text does (ê, ç, ô, œ, ’). Typographic punctuation is replaced by its GSM-7 twin first.
- STOP / ARRET opt the number out of proactive messages, START opts it back in; both are confirmed.
- An emergency answer always mentions 114, the emergency number deaf or hard-of-hearing people text.
- Phone numbers and texts never reach the logs: ids, lengths and segment counts only.
"""

from __future__ import annotations

import logging
import math
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlencode

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.message_path import handle_incoming
from bot.conversation.models import Conversation
from bot.conversation.transcript import Reply
from bot.core.datafiles import fold
from bot.core.db import session_scope
from bot.core.numbers import emergency_numbers
from bot.messaging.delivery import is_emergency
from bot.messaging.models import ChannelState
from bot.messaging.outbox import FAILED, SENT, DeliveryError, sending_row
from connectors.common import channel_text, notice
from connectors.sms.settings import SmsSettings, sms_settings
from connectors.textsplit import split_text

log = logging.getLogger(__name__)

CHANNEL = "sms"

# ---------------------------------------------------------------- GSM-7 and segments

# 3GPP TS 23.038 default alphabet (the escape character 0x1B excluded) and its extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
# Characters a phone shows the same way once replaced: what providers call "smart encoding".
_LOOKALIKES = str.maketrans({
    "’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"', "«": '"', "»": '"', "…": "...", "–": "-", "—": "-",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ",
})


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def encoding(text: str) -> str:
    return "GSM-7" if is_gsm7(text) else "UCS-2"


def units(text: str) -> int:
    """Septets (GSM-7, extension characters count two) or UTF-16 code units (UCS-2)."""
    if is_gsm7(text):
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """How many SMS segments the network carries for this text."""
    single, concatenated = (160, 153) if is_gsm7(text) else (70, 67)
    count = units(text)
    return 1 if count <= single else math.ceil(count / concatenated)


def smart_encode(text: str) -> str:
    return text.translate(_LOOKALIKES)


_PART_PREFIX = "(9/9) "


def split_sms(text: str, max_segments: int) -> list[str]:
    """SMS texts of at most `max_segments` segments each, cut at natural boundaries, numbered if several."""
    if segments(text) <= max_segments:
        return [text]
    # Reserve room for the "(1/3) " that tells the order when several SMS arrive out of order.
    chunks = split_text(text, lambda chunk: segments(_PART_PREFIX + chunk) <= max_segments)
    return [f"({index}/{len(chunks)}) {chunk}" for index, chunk in enumerate(chunks, 1)]


# ---------------------------------------------------------------- rendering


def render(conversation: Conversation, replies: list[Reply]) -> list[Reply]:
    """The SMS for one turn: its replies in one text, numbered options, 114 in emergencies, split."""
    language = conversation.language
    texts: list[str] = []
    options: list[dict[str, str]] = []
    emergency = False
    for reply in replies:
        text = reply.text.strip()
        call = reply.custom.get("call") if isinstance(reply.custom, dict) else None
        if isinstance(call, dict) and call.get("label") and str(call.get("number", "")) not in " ".join([*texts, text]):
            text = f"{text}\n{call['label']}" if text else str(call["label"])
        if text:
            texts.append(text)
        if reply.buttons:
            options = reply.buttons  # the last offer is the one the patient answers
        emergency = emergency or is_emergency(reply)
    if emergency and emergency_numbers().numbers["deaf_sms"].number not in " ".join(texts):
        texts.append(channel_text("sms_deaf_emergency", language))
    if options:
        numbered = "\n".join(f"{index}. {button.get('title', '')}" for index, button in enumerate(options, 1))
        texts.append(f"{numbered}\n{channel_text('reply_with_number', language)}")
    body = smart_encode("\n\n".join(texts)).strip()
    if not body:
        return []
    parts = split_sms(body, sms_settings().max_segments)
    return [Reply(text=part, buttons=options if index == len(parts) - 1 else [])
            for index, part in enumerate(parts)]


# ---------------------------------------------------------------- providers


class SmsProvider(Protocol):
    name: str

    async def send(self, to: str, body: str, reference: int | None = None) -> str:
        """Send one SMS; the provider's id for it. Raises DeliveryError. `reference` (the outbox row)
        comes back with the delivery receipts, if the provider sends any."""

    async def close(self) -> None: ...


def mask(number: str) -> str:
    return "…" + number[-2:] if len(number) > 4 else "…"


class LogProvider:
    """Development: sends nothing and logs that it would have (an id, a length, never the text)."""

    name = "log"

    async def send(self, to: str, body: str, reference: int | None = None) -> str:
        provider_id = "log-" + uuid.uuid4().hex[:16]
        log.info("sms %s not sent (log provider) to %s: %d characters, %s, %d segment(s)",
                 provider_id, mask(to), len(body), encoding(body), segments(body))
        return provider_id

    async def close(self) -> None:
        return None


# Twilio error codes that no retry can fix: invalid or unreachable number, number opted out at Twilio.
TWILIO_PERMANENT = {21211, 21214, 21408, 21610, 21612, 21614, 30003, 30004, 30005, 30006}


class TwilioProvider:
    """Twilio's Messages API (POST /2010-04-01/Accounts/{sid}/Messages.json, basic auth), over httpx."""

    name = "twilio"

    def __init__(self, s: SmsSettings) -> None:
        self.settings = s
        self.client = httpx.AsyncClient(
            base_url=s.api_base_url, auth=(s.account_sid, s.auth_token),
            timeout=httpx.Timeout(15.0, connect=5.0), limits=httpx.Limits(max_connections=20),
        )

    async def send(self, to: str, body: str, reference: int | None = None) -> str:
        s = self.settings
        form = {"To": to, "Body": body}
        if s.messaging_service_sid:
            form["MessagingServiceSid"] = s.messaging_service_sid
        else:
            form["From"] = s.from_number
        if s.public_url:
            # Delivery receipts update the outbox row. Our row id rides in the URL, which Twilio signs,
            # so a receipt settles a row whose sid we never recorded (the worker died mid-call).
            form["StatusCallback"] = status_callback_url(s, reference)
        try:
            response = await self.client.post(f"/2010-04-01/Accounts/{s.account_sid}/Messages.json", data=form)
        except httpx.HTTPError as error:
            raise DeliveryError(f"twilio unreachable ({type(error).__name__})") from error
        if response.status_code in (200, 201):
            try:
                return str(response.json()["sid"])
            except (ValueError, KeyError) as error:
                raise DeliveryError("twilio answered without a message sid") from error
        try:
            code = response.json().get("code")
        except ValueError:
            code = None
        reason = f"twilio {response.status_code}" + (f" code {code}" if code else "")
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After", "")
            raise DeliveryError(reason, retry_after=float(retry_after) if retry_after.isdigit() else None)
        if response.status_code >= 500 or response.status_code in (401, 403, 404):
            raise DeliveryError(reason)  # provider trouble or credentials being fixed: worth retrying
        raise DeliveryError(reason, permanent=code in TWILIO_PERMANENT or response.status_code == 400)

    async def close(self) -> None:
        await self.client.aclose()


def status_callback_url(s: SmsSettings, reference: int | None) -> str:
    return s.status_url if reference is None else f"{s.status_url}?{urlencode({'row': reference})}"


# What a Twilio receipt says of a message whose outcome we did not know: the provider has it (sent:
# a resend would duplicate it) or it will not reach the patient. Other statuses (scheduled…) settle nothing.
RECEIPT_OUTCOMES = {
    "accepted": SENT, "queued": SENT, "sending": SENT, "sent": SENT, "delivered": SENT, "read": SENT,
    "undelivered": FAILED, "failed": FAILED, "canceled": FAILED,
}


def receipt_outcome(message_status: str) -> str | None:
    return RECEIPT_OUTCOMES.get(message_status.strip().lower())


_providers: dict[SmsSettings, SmsProvider] = {}


def provider() -> SmsProvider:
    s = sms_settings()
    if s not in _providers:
        if s.provider == "twilio":
            if not (s.account_sid and s.auth_token and (s.from_number or s.messaging_service_sid)):
                raise DeliveryError("twilio not configured: TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER")
            _providers[s] = TwilioProvider(s)
        elif s.provider == "log":
            _providers[s] = LogProvider()
        else:
            raise DeliveryError(f"unknown SMS_PROVIDER {s.provider!r}", permanent=True)
    return _providers[s]


async def close() -> None:
    providers = list(_providers.values())
    _providers.clear()
    for instance in providers:
        await instance.close()


async def deliver(conversation: Conversation, reply: Reply) -> str:
    provider_id = await provider().send(conversation.sender, reply.text, sending_row.get())
    if reply.buttons:
        await _remember_options(conversation.id, reply.buttons)
    return provider_id


# ---------------------------------------------------------------- channel state


async def _state(session, conversation_id: str) -> ChannelState:
    state = await session.get(ChannelState, conversation_id)
    if state is None:
        state = ChannelState(conversation_id=conversation_id, options=[], opted_out=False)
        session.add(state)
    return state


async def _remember_options(conversation_id: str, options: list[dict[str, str]]) -> None:
    async with session_scope() as session:
        state = await _state(session, conversation_id)
        state.options = list(options)


async def _read_option(session: AsyncSession, conversation: Conversation, body: str) -> str:
    """A number answering the options last offered is that option's payload; the options are
    forgotten either way (the patient has written again), in the message's own transaction."""
    state = await session.get(ChannelState, conversation.id)
    if state is None or not state.options:
        return body
    options, state.options = list(state.options), []
    return chosen_option(body, options) or body


def _opt_out(opted_out: bool) -> Callable[[AsyncSession, Conversation], Awaitable[None]]:
    async def change(session: AsyncSession, conversation: Conversation) -> None:
        state = await _state(session, conversation.id)
        state.opted_out = opted_out
        state.opted_out_at = datetime.now(UTC) if opted_out else None

    return change


# ---------------------------------------------------------------- in

# Whole-message keywords. CANCEL, END and QUIT are left out: in a patient dialogue they mean
# "cancel my appointment" or "stop this questionnaire" far more often than "unsubscribe".
STOP_WORDS = frozenset({"stop", "stopall", "stop all", "stop sms", "arret", "arreter", "arretez", "unsubscribe",
                        "desabonner", "desinscrire"})
START_WORDS = frozenset({"start", "unstop"})
_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")


def keyword(body: str) -> str | None:
    folded = " ".join(fold(body).strip(" .!\n\t").split())
    if folded in STOP_WORDS:
        return "stop"
    if folded in START_WORDS:
        return "start"
    return None


def chosen_option(body: str, options: list[dict[str, str]]) -> str | None:
    """The payload of option n when the patient answers "n" (or "n." / "n)")."""
    match = _CHOICE.match(body)
    if not match or not options:
        return None
    number = int(match[1])
    return options[number - 1].get("payload") if 1 <= number <= len(options) else None


async def process_inbound(form: dict[str, str]) -> str:
    """One incoming SMS (Twilio's form fields), processed once; what was done (never the text)."""
    sid, sender, body = form["MessageSid"], form["From"], form.get("Body", "")
    key = f"sms:{sid}"  # the MessageSid is recorded with what the message brings: a redelivery is skipped
    if word := keyword(body):
        opted_out = word == "stop"
        # With the receipt: a STOP redelivered after a START changes nothing.
        done = await notice(CHANNEL, sender, "sms_opted_out" if opted_out else "sms_opted_in", reply_key=key,
                            receipt=sid, incoming=body.strip()[:40], incoming_payload={"keyword": word},
                            also=_opt_out(opted_out))
        return ("opted_out" if opted_out else "opted_in") if done else "duplicate"
    media = form.get("NumMedia", "0")
    if not body.strip() and media.isdigit() and int(media) > 0:
        done = await notice(CHANNEL, sender, "text_only", reply_key=key, receipt=sid, incoming="",
                            incoming_payload={"unsupported": "mms"})
        return "unsupported" if done else "duplicate"
    turn = await handle_incoming(CHANNEL, sender, body, receipt=sid, reply_key=key, read_as=_read_option)
    if turn is None:
        return "duplicate"
    return "option" if turn.read_by_channel else "message"
