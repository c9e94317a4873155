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

Every code is an SMS the hospital pays for, to a number a stranger typed. So codes go only to
mobiles of the regions the hospital serves (`bot/conversation/config.py`), from the web chat,
Telegram or SMS (never the `api` channel), within budgets per conversation, per number, per client
address and for the whole hospital, per hour and per day. Budgets and tries are counted by the
database itself (an upsert or an UPDATE that only succeeds under the limit, in the transaction
that sends the code or checks it): concurrent requests cannot all read "2 of 3" and all go ahead.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import phonenumbers
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.client import client_address
from bot.conversation.config import LINKABLE_CHANNELS, verification_settings
from bot.conversation.models import Conversation, Patient, PhoneVerification, VerificationBudget
from bot.conversation.transcript import Reply, conversation_by_id, conversation_for
from bot.core.datafiles import message
from bot.core.db import session_scope
from bot.messaging import outbox
from bot.messaging.delivery import enqueue_proactive

log = logging.getLogger(__name__)

CODE_TTL = timedelta(minutes=10)  # the code SMS says so (phone_code_sms)
MAX_ATTEMPTS = 5
AWAITING_PHONE, CODE_SENT = "awaiting_phone", "code_sent"
PENDING = (AWAITING_PHONE, CODE_SENT)
# A number the regions' own plans cannot tell from a landline may still be a mobile: let it try.
_MOBILE_TYPES = frozenset({phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE})
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
_KEEP_BUDGETS = timedelta(days=2)  # a window over is of no use but to an operator looking at yesterday
# Which limit refused a code, and what the patient is told: their own mistakes, or the hospital's pause.
_TOO_MANY = {"conversation": "phone_too_many_codes", "number": "phone_too_many_codes"}

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


def _parse(raw: str, regions: Sequence[str]) -> phonenumbers.PhoneNumber | None:
    """The number as the patient meant it: a national number ("0690 12 34 56") is read in each served
    region in turn, since overseas mobiles are dialled with a leading 0 across the French plan too."""
    first = None
    for region in regions:
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
        first = first or number
    return first


def read_mobile(text: str) -> tuple[str | None, str]:
    """The E.164 form of a mobile number as people type it ("06 12 34 56 78", "+33 6…", "0033…"),
    or None and the key of the answer that says why not: a landline cannot receive the code, and
    a number outside the regions the hospital serves gets none."""
    raw = text.strip()
    if not _PHONE_LIKE.match(raw):
        return None, "phone_not_mobile"
    regions = verification_settings().regions
    number = _parse(raw, regions)
    if number is None:
        return None, "phone_not_mobile"
    if not phonenumbers.is_valid_number(number):
        served = {phonenumbers.country_code_for_region(region) for region in regions}
        return None, "phone_not_mobile" if number.country_code in served else "phone_not_served"
    if phonenumbers.region_code_for_number(number) not in regions:
        return None, "phone_not_served"
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None, "phone_not_mobile"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def normalise_mobile(text: str) -> str | None:
    """The E.164 form of a mobile of a served region, None for anything else."""
    return read_mobile(text)[0]


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
    if not _PHONE_LIKE.match(text.strip()):
        await _close_pending(session, conversation_id)
        return None
    conversation = await conversation_by_id(session, conversation_id)
    if conversation is None or conversation.channel not in LINKABLE_CHANNELS:
        await _close_pending(session, conversation_id)
        return Answer("phone_link_unavailable")
    phone, refusal = read_mobile(text)
    if phone is None:
        return Answer(refusal)
    return await _send_code(session, verification, phone, language)


@dataclass(frozen=True)
class Budget:
    """One limit on codes: `limit` codes per `scope` and `key` in the window starting at `window_start`."""

    scope: str
    key: str
    window_start: datetime
    limit: int


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _window(now: datetime, length: timedelta) -> datetime:
    now = outbox.as_utc(now)
    return now.replace(minute=0, second=0, microsecond=0) if length == HOUR else now.replace(
        hour=0, minute=0, second=0, microsecond=0)


def _hospital_budgets(now: datetime) -> list[Budget]:
    limits = verification_settings()
    return [Budget("hospital_hour", "hospital", _window(now, HOUR), limits.global_hour),
            Budget("hospital_day", "hospital", _window(now, DAY), limits.global_day)]


def budgets_for(conversation_id: str, phone: str, client: str | None, now: datetime) -> list[Budget]:
    """Every limit a code to `phone` from this conversation and client counts against, always in the
    same order, so that concurrent transactions lock the same rows in the same order (no deadlock)."""
    limits = verification_settings()
    hour, day = _window(now, HOUR), _window(now, DAY)
    budgets = [Budget("conversation", _digest(conversation_id), hour, limits.per_conversation_hour),
               Budget("number", _digest(phone), hour, limits.per_number_hour)]
    if client is not None:  # None: a provider's signed webhook, whose sender is the number itself
        budgets += [Budget("client_hour", _digest(client), hour, limits.client_hour),
                    Budget("client_day", _digest(client), day, limits.client_day)]
    return budgets + _hospital_budgets(now)


async def _take(session: AsyncSession, budget: Budget) -> int | None:
    """One more code against this budget, counted by the database: the count after it, or None when
    the budget is spent. The row is locked until the transaction ends, so a concurrent request
    waits and then sees this count."""
    if budget.limit <= 0:
        return None
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (insert(VerificationBudget)
                 .values(scope=budget.scope, key=budget.key, window_start=budget.window_start, used=1)
                 .on_conflict_do_update(index_elements=["scope", "key", "window_start"],
                                        set_={"used": VerificationBudget.used + 1},
                                        where=VerificationBudget.used < budget.limit)
                 .returning(VerificationBudget.used))
    return await session.scalar(statement)


async def _give_back(session: AsyncSession, budget: Budget) -> None:
    await session.execute(
        update(VerificationBudget)
        .where(VerificationBudget.scope == budget.scope, VerificationBudget.key == budget.key,
               VerificationBudget.window_start == budget.window_start, VerificationBudget.used > 0)
        .values(used=VerificationBudget.used - 1).execution_options(synchronize_session=False))


def _alert(budget: Budget, used: int, phone: str) -> None:
    """Warn operators as the hospital's budget runs out: a pumping attack, or a campaign to plan for."""
    threshold = max(1, math.ceil(budget.limit * verification_settings().alert_ratio))
    if used == budget.limit:
        log.warning("verification SMS budget exhausted: %s %d/%d (last code to %s)",
                    budget.scope, used, budget.limit, masked(phone))
    elif used == threshold:
        log.warning("verification SMS budget near: %s %d/%d (code to %s)", budget.scope, used, budget.limit,
                    masked(phone))


async def take_budgets(session: AsyncSession, budgets: Sequence[Budget], phone: str) -> str | None:
    """One code against every budget, in the caller's transaction: None when all had room, else the
    scope that refused (and nothing is counted against the others)."""
    taken: list[Budget] = []
    for budget in budgets:
        used = await _take(session, budget)
        if used is None:
            for earlier in taken:
                await _give_back(session, earlier)
            return budget.scope
        taken.append(budget)
        if budget.scope.startswith("hospital"):
            _alert(budget, used, phone)
            if budget.scope == "hospital_day" and used == 1:  # once a day: forget the windows long over
                await session.execute(delete(VerificationBudget).where(
                    VerificationBudget.window_start < budget.window_start - _KEEP_BUDGETS))
    return None


async def budget_status(session: AsyncSession) -> Literal["ok", "near", "exhausted"]:
    """How much of the hospital's budget for codes is spent, this hour and today (for `GET /health`)."""
    ratio = verification_settings().alert_ratio
    status: Literal["ok", "near", "exhausted"] = "ok"
    for budget in _hospital_budgets(outbox.clock()):
        used = await session.scalar(select(VerificationBudget.used).where(
            VerificationBudget.scope == budget.scope, VerificationBudget.key == budget.key,
            VerificationBudget.window_start == budget.window_start)) or 0
        if used >= budget.limit:
            return "exhausted"
        if used >= math.ceil(budget.limit * ratio):
            status = "near"
    return status


async def _opted_out(session: AsyncSession, phone: str) -> bool:
    # Looked up, not created: a number that gets no code leaves no conversation behind.
    sms = await session.scalar(select(Conversation).where(Conversation.channel == "sms", Conversation.sender == phone))
    return sms is not None and await outbox.opted_out(session, sms.id)


async def _send_code(session: AsyncSession, verification: PhoneVerification, phone: str, language: str) -> Answer:
    if await _opted_out(session, phone):
        await _close_pending(session, verification.conversation_id)
        return Answer("phone_opted_out", {"phone": masked(phone)})
    refused = await take_budgets(
        session, budgets_for(verification.conversation_id, phone, client_address.get(), outbox.clock()), phone)
    if refused is not None:
        await _close_pending(session, verification.conversation_id)
        return Answer(_TOO_MANY.get(refused, "phone_codes_paused"))
    sms = await conversation_for(session, "sms", phone, language)
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


async def _set_status(session: AsyncSession, verification_id: int, status: str) -> bool:
    """Move a verification on from `code_sent`, if no concurrent request did first."""
    moved = await session.scalar(
        update(PhoneVerification)
        .where(PhoneVerification.id == verification_id, PhoneVerification.status == CODE_SENT)
        .values(status=status).returning(PhoneVerification.id).execution_options(synchronize_session=False))
    return moved is not None


async def _count_attempt(session: AsyncSession, verification_id: int) -> int | None:
    """One more try, counted by the database under the limit: its number, or None when none is left.
    The row stays locked until the transaction ends, so 30 codes at once are checked 5 times."""
    return await session.scalar(
        update(PhoneVerification)
        .where(PhoneVerification.id == verification_id, PhoneVerification.status == CODE_SENT,
               PhoneVerification.attempts < MAX_ATTEMPTS)
        .values(attempts=PhoneVerification.attempts + 1).returning(PhoneVerification.attempts)
        .execution_options(synchronize_session=False))


async def _confirm(session: AsyncSession, verification: PhoneVerification, code: str, language: str) -> Answer:
    now = outbox.clock()
    if now >= outbox.as_utc(verification.expires_at):
        await _set_status(session, verification.id, "expired")
        return Answer("phone_code_expired")
    attempts = await _count_attempt(session, verification.id)
    if attempts is None:
        return Answer("phone_code_locked")
    if not hmac.compare_digest(_hash(verification.code_salt or "", code), verification.code_hash or ""):
        left = MAX_ATTEMPTS - attempts
        if left <= 0:
            await _set_status(session, verification.id, "locked")
            return Answer("phone_code_locked")
        return Answer("phone_code_wrong", {"left": left})
    if not await _set_status(session, verification.id, "confirmed"):
        # A concurrent request confirmed it, or a corrected number replaced it meanwhile.
        status = await session.scalar(select(PhoneVerification.status).where(PhoneVerification.id == verification.id))
        return Answer("phone_confirmed" if status == "confirmed" else "phone_code_expired",
                      {"phone": masked(verification.phone or "")})
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
