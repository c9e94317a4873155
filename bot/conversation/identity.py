"""Identity across channels: a patient is the same person on two channels only once they have
proved a mobile number with a code sent to it by SMS. Until then each channel is its own
conversation, whatever name or number someone types.

The steps after the request happen in the back office, never in the engine, so that the number
and the code do not reach Rasa's tracker:

    "je veux relier mon numéro" → engine → action_link_phone → expect_phone()
    "06 12 34 56 78"            → back office → send_code(): a code by SMS, through the outbox
    "482913"                    → back office → confirm_code(): one Patient, verified phone,
                                  linked to this conversation and to the SMS conversation of that number

The code is never stored, only a salted SHA-256 of it: six digits are weak against an offline
search, so they are also only good for 10 minutes and 5 tries.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.models import Conversation, Patient, PhoneVerification
from bot.conversation.transcript import Reply, conversation_by_id, conversation_for
from bot.core.datafiles import message
from bot.core.db import session_scope
from bot.messaging import outbox
from bot.messaging.delivery import enqueue_proactive

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_CODES_PER_HOUR = 3  # per conversation and per number: nobody can flood a stranger's phone
AWAITING_PHONE, CODE_SENT = "awaiting_phone", "code_sent"
PENDING = (AWAITING_PHONE, CODE_SENT)

_PHONE_LIKE = re.compile(r"^\+?[\d\s.\-()/]{8,24}$")
_CODE = re.compile(r"^\d{6}$")


@dataclass
class Answer:
    """What the back office says, as a key of bot/conversation/data/messages.yml and its parameters.

    `outbox_ids`: the code SMS enqueued in the caller's transaction, to attempt once it has committed.
    """

    key: str
    params: dict[str, object] = field(default_factory=dict)
    outbox_ids: list[int] = field(default_factory=list)

    def text(self, language: str) -> str:
        return message(self.key, language).format(**self.params)


def normalise_mobile(text: str) -> str | None:
    """The E.164 form of a mobile number as people type it ("06 12 34 56 78", "+33 6…", "0033…").

    French numbers must be mobiles (06, 07): a landline cannot receive the code.
    """
    raw = text.strip()
    if not _PHONE_LIKE.match(raw):
        return None
    digits = re.sub(r"\D", "", raw)
    if raw.startswith("+"):
        e164 = "+" + digits
    elif digits.startswith("00"):
        e164 = "+" + digits[2:]
    elif len(digits) == 10 and digits.startswith("0"):
        e164 = "+33" + digits[1:]
    else:
        return None
    if e164.startswith("+33"):
        national = e164[3:]
        return e164 if len(national) == 9 and national[0] in "67" else None
    return e164 if 8 <= len(digits) <= 15 else None


def masked(phone: str) -> str:
    """What the patient sees of a number: enough to spot a typo, not enough to read it out."""
    return "•" * (len(phone) - 2) + phone[-2:]


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256((salt + code).encode()).hexdigest()


async def _pending(session: AsyncSession, conversation_id: str) -> PhoneVerification | None:
    query = (select(PhoneVerification)
             .where(PhoneVerification.conversation_id == conversation_id, PhoneVerification.status.in_(PENDING))
             .order_by(PhoneVerification.id.desc()).limit(1))
    return await session.scalar(query)


async def is_pending(session: AsyncSession, conversation_id: str) -> bool:
    """Whether a verification waits for this conversation's next message (asked on every turn: cheap)."""
    return await _pending(session, conversation_id) is not None


async def _close_pending(session: AsyncSession, conversation_id: str) -> None:
    await session.execute(
        update(PhoneVerification)
        .where(PhoneVerification.conversation_id == conversation_id, PhoneVerification.status.in_(PENDING))
        .values(status="cancelled"))


async def expect_phone(conversation_id: str) -> None:
    """The patient asked to link their channels: their next message should be a mobile number."""
    now = outbox.clock()
    async with session_scope() as session:
        await _close_pending(session, conversation_id)
        session.add(PhoneVerification(conversation_id=conversation_id, status=AWAITING_PHONE,
                                      created_at=now, expires_at=now + CODE_TTL))


async def cancel(session: AsyncSession, conversation_id: str) -> None:
    await _close_pending(session, conversation_id)


async def answer_pending(session: AsyncSession, conversation_id: str, text: str, language: str) -> Answer | None:
    """The back office's answer when this message is the number or the code a verification waits for,
    in the caller's transaction.

    None when nothing waits, or when the patient moved on to something else: then the verification
    is cancelled and the message goes to the engine as usual.
    """
    verification = await _pending(session, conversation_id)
    if verification is None:
        return None
    compact = re.sub(r"\s", "", text)
    if verification.status == CODE_SENT and _CODE.match(compact):
        return await _confirm(session, verification, compact, language)
    if (phone := normalise_mobile(text)) is not None:
        return await _send_code(session, verification, phone, language)
    if _PHONE_LIKE.match(text.strip()):
        return Answer("phone_not_mobile")
    await _close_pending(session, conversation_id)
    return None


async def _codes_sent_recently(session: AsyncSession, *, conversation_id: str | None = None,
                               phone: str | None = None) -> int:
    since = outbox.clock() - timedelta(hours=1)
    query = select(func.count(PhoneVerification.id)).where(
        PhoneVerification.code_hash.is_not(None), PhoneVerification.created_at >= since)
    if conversation_id is not None:
        query = query.where(PhoneVerification.conversation_id == conversation_id)
    if phone is not None:
        query = query.where(PhoneVerification.phone == phone)
    return await session.scalar(query) or 0


async def _send_code(session: AsyncSession, verification: PhoneVerification, phone: str, language: str) -> Answer:
    if (await _codes_sent_recently(session, conversation_id=verification.conversation_id) >= MAX_CODES_PER_HOUR
            or await _codes_sent_recently(session, phone=phone) >= MAX_CODES_PER_HOUR):
        await _close_pending(session, verification.conversation_id)
        return Answer("phone_too_many_codes")
    sms = await conversation_for(session, "sms", phone, language)
    if await outbox.opted_out(session, sms.id):
        await _close_pending(session, verification.conversation_id)
        return Answer("phone_opted_out", {"phone": masked(phone)})
    code = f"{secrets.randbelow(10**6):06d}"
    now = outbox.clock()
    if verification.status == CODE_SENT:
        # A corrected number: the code sent to the first one stops working.
        verification.status = "cancelled"
        verification = PhoneVerification(conversation_id=verification.conversation_id, created_at=now)
        session.add(verification)
    verification.status = CODE_SENT
    verification.phone = phone
    verification.code_salt = secrets.token_hex(16)
    verification.code_hash = _hash(verification.code_salt, code)
    verification.attempts = 0
    verification.created_at = now
    verification.expires_at = now + CODE_TTL
    await session.flush()
    # The code SMS commits with the verification that holds its hash: neither exists without the other.
    # Urgent: a code asked for at 22:00 must not wait for the end of quiet hours.
    outbox_ids = await enqueue_proactive(
        session, sms, Reply(text=message("phone_code_sms", language).format(code=code)),
        idempotency_key=f"phone-code:{verification.id}", urgent=True, author="system")
    return Answer("phone_code_sent", {"phone": masked(phone), "minutes": int(CODE_TTL.total_seconds() // 60)},
                  outbox_ids)


async def _confirm(session: AsyncSession, verification: PhoneVerification, code: str, language: str) -> Answer:
    now = outbox.clock()
    if now >= outbox.as_utc(verification.expires_at):
        verification.status = "expired"
        return Answer("phone_code_expired")
    verification.attempts += 1
    if not hmac.compare_digest(_hash(verification.code_salt or "", code), verification.code_hash or ""):
        left = MAX_ATTEMPTS - verification.attempts
        if left <= 0:
            verification.status = "locked"
            return Answer("phone_code_locked")
        return Answer("phone_code_wrong", {"left": left})
    verification.status = "confirmed"
    phone = verification.phone or ""
    patient = await session.scalar(
        select(Patient).where(Patient.phone == phone, Patient.phone_verified.is_(True)).order_by(Patient.created_at))
    if patient is None:
        patient = Patient(phone=phone, phone_verified=True, language=language)
        session.add(patient)
        await session.flush()
    conversation = await conversation_by_id(session, verification.conversation_id)
    sms = await conversation_for(session, "sms", phone, language)
    for linked in (conversation, sms):
        if linked is not None:
            linked.patient_id = patient.id
    return Answer("phone_confirmed", {"phone": masked(phone)})


async def linked_conversations(session: AsyncSession, conversation_id: str) -> list[Conversation]:
    """Every conversation of the verified patient behind this one (itself alone when unverified)."""
    conversation = await conversation_by_id(session, conversation_id)
    if conversation is None:
        return []
    if conversation.patient_id is None:
        return [conversation]
    query = select(Conversation).where(Conversation.patient_id == conversation.patient_id).order_by(Conversation.created_at)
    return list((await session.scalars(query)).all())
