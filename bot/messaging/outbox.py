"""The outbox: every message to a patient's channel is a database row before it is a provider call.

    enqueue (same transaction as the transcript) → claim → provider → sent | retry later | failed
                                                        (worker died) → unknown → receipt → sent | failed

- Idempotency: each row has a unique key; enqueueing the same key twice adds nothing, so a caller
  that retries after a crash sends nothing twice.
- Claiming: a row goes from "pending" to "sending" by a conditional UPDATE that only one back-office
  instance can win (on PostgreSQL the row is first locked with FOR UPDATE SKIP LOCKED, so instances
  never wait on each other). The claim is made right before the provider call.
- A row left "sending" by a worker that died becomes "unknown", never "failed", and is never sent
  again, by the worker or anyone: we cannot know whether the provider got it (neither Telegram nor
  Twilio offers an idempotency key), and a duplicate reminder or emergency message confuses a
  patient more than a visible "unknown" the staff can check. A delivery receipt settles it
  (`set_provider_status`): the channel passes the row id to the provider (`sending_row`), so a
  receipt finds a row whose provider id was never recorded. Telegram has no receipts: its unknown
  rows stay unknown.
- Order: a conversation's messages leave one at a time, in order; a message waiting for a retry
  holds back the later ones of the same conversation.
- Retries with exponential backoff and jitter; a provider's Retry-After is honoured; permanent
  errors (patient blocked the bot, invalid number) fail at once.
- Quiet hours (Europe/Paris by default) defer proactive messages on SMS and Telegram, except urgent
  ones and replies to a patient who just wrote. Opted-out conversations get no proactive message.
- Rate limits per channel, per instance (token buckets).

No message text is ever logged: rows are referred to by id, errors by kind and provider code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time as monotonic_time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import Exists

from bot.conversation.models import Conversation, InboundReceipt
from bot.core.config import settings
from bot.core.db import rows_changed, session_scope
from bot.messaging.config import outbox_settings
from bot.messaging.models import CallbackToken, ChannelState, OutboxMessage

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, FAILED, CANCELLED = "pending", "sending", "sent", "failed", "cancelled"
UNKNOWN = "unknown"  # the provider may or may not have it: never resent, settled by a receipt
INTERRUPTED = "interrupted while sending: outcome unknown, not resent so the patient gets no duplicate"
RECEIPTS_KEPT = timedelta(days=14)  # Telegram retries an update for at most a day; Twilio does not retry
TOKENS_KEPT = timedelta(days=30)


class DeliveryError(Exception):
    """A provider refused or failed a message. `permanent`: retrying cannot help (blocked, invalid number)."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:400]
        self.permanent = permanent
        self.retry_after = retry_after


Dispatch = Callable[[Conversation, OutboxMessage], Awaitable[str | None]]

# The row a deliverer is sending, for a channel whose provider echoes our reference in its receipts
# (Twilio's StatusCallback URL): read by the channel, so deliverers keep their (conversation, reply) shape.
sending_row: ContextVar[int | None] = ContextVar("sending_row", default=None)


def utcnow() -> datetime:
    return datetime.now(UTC)


clock: Callable[[], datetime] = utcnow  # replaced in tests to stand at night


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class OutboxEntry:
    """A row as the back-office API shows it: status and timing, never the text."""

    id: int
    conversation_id: str
    channel: str
    kind: str
    idempotency_key: str
    urgent: bool
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    provider_id: str | None
    provider_status: str | None
    message_id: int | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, row: OutboxMessage) -> OutboxEntry:
        return cls(
            id=row.id, conversation_id=row.conversation_id, channel=row.channel, kind=row.kind,
            idempotency_key=row.idempotency_key, urgent=row.urgent, status=row.status, attempts=row.attempts,
            next_attempt_at=as_utc(row.next_attempt_at), last_error=row.last_error, provider_id=row.provider_id,
            provider_status=row.provider_status, message_id=row.message_id, created_at=as_utc(row.created_at),
            sent_at=as_utc(row.sent_at) if row.sent_at else None,
        )


# ---------------------------------------------------------------- policy


def quiet_until(at: datetime, channel: str, *, urgent: bool, kind: str) -> datetime | None:
    """When quiet hours end, if a message of this kind may not leave at `at`; None if it may."""
    s = outbox_settings()
    if urgent or kind == "reply" or channel not in s.quiet_channels or s.quiet_start is None or s.quiet_end is None:
        return None
    zone = ZoneInfo(s.timezone)
    local = as_utc(at).astimezone(zone)
    now, start, end = local.time(), s.quiet_start, s.quiet_end
    if start == end:
        return None
    overnight = start > end  # 21:00-08:00
    inside = (now >= start or now < end) if overnight else (start <= now < end)
    if not inside:
        return None
    day = local.date() + timedelta(days=1) if overnight and now >= start else local.date()
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    s = outbox_settings()
    delay = min(s.retry_max_seconds, s.retry_base_seconds * 2 ** max(0, attempts - 1))
    delay *= random.uniform(0.8, 1.2)  # instances that failed together do not retry in lockstep
    return max(delay, retry_after or 0.0)


class _Bucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = monotonic_time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self) -> None:
        async with self.lock:  # waiters queue in order
            while True:
                now = monotonic_time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class RateLimiter:
    """Messages per second per channel, in this process (set the limits per instance)."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, float], _Bucket] = {}

    async def acquire(self, channel: str) -> None:
        rate = outbox_settings().rate_limits.get(channel)
        if not rate or rate <= 0:
            return
        bucket = self._buckets.setdefault((channel, rate), _Bucket(rate))
        await bucket.take()


limiter = RateLimiter()


# ---------------------------------------------------------------- enqueue


def part_key(key: str, index: int) -> str:
    return key if index == 0 else f"{key}#{index + 1}"


async def existing(session: AsyncSession, idempotency_key: str) -> list[OutboxMessage]:
    """The rows already enqueued under this key (its parts included)."""
    query = select(OutboxMessage).where(
        or_(OutboxMessage.idempotency_key == idempotency_key, OutboxMessage.idempotency_key.like(
            idempotency_key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "#%", escape="\\"))
    ).order_by(OutboxMessage.id)
    return list((await session.scalars(query)).all())


async def opted_out(session: AsyncSession, conversation_id: str) -> bool:
    state = await session.get(ChannelState, conversation_id)
    return bool(state and state.opted_out)


async def enqueue(
    session: AsyncSession, conversation: Conversation, parts: Sequence[dict], *, kind: str, idempotency_key: str,
    urgent: bool = False, message_id: int | None = None,
) -> list[OutboxMessage]:
    """Adds one row per part in the caller's transaction. Raises IntegrityError if the key exists."""
    now = clock()
    cancelled = kind != "reply" and await opted_out(session, conversation.id)
    rows = []
    for index, payload in enumerate(parts):
        row = OutboxMessage(
            conversation_id=conversation.id, channel=conversation.channel, kind=kind, payload=dict(payload),
            idempotency_key=part_key(idempotency_key, index), urgent=urgent, attempts=0, message_id=message_id,
            status=CANCELLED if cancelled else PENDING, last_error="opted out" if cancelled else None,
            next_attempt_at=quiet_until(now, conversation.channel, urgent=urgent, kind=kind) or now, created_at=now,
        )
        session.add(row)
        rows.append(row)
    await session.flush()
    return rows


# ---------------------------------------------------------------- claim and send


def _blocked_by_earlier(now: datetime) -> Exists:
    """An earlier row of the same conversation that must leave first."""
    earlier = aliased(OutboxMessage)
    return exists().where(
        earlier.conversation_id == OutboxMessage.conversation_id,
        earlier.id < OutboxMessage.id,
        or_(
            earlier.status == SENDING,
            and_(earlier.status == PENDING, or_(earlier.attempts > 0, earlier.next_attempt_at <= now)),
        ),
    )


@dataclass(frozen=True)
class _Due:
    id: int
    conversation_id: str
    channel: str
    kind: str
    urgent: bool


async def due_rows(limit: int) -> list[_Due]:
    now = clock()
    query = (
        select(OutboxMessage.id, OutboxMessage.conversation_id, OutboxMessage.channel, OutboxMessage.kind,
               OutboxMessage.urgent)
        .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now, ~_blocked_by_earlier(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    async with session_scope() as session:
        return [_Due(*row) for row in (await session.execute(query)).all()]


async def _claim(row_id: int, worker_id: str) -> bool:
    now = clock()
    target = OutboxMessage.id == row_id
    if settings().is_postgres:
        # Lock the row, skipping it if another instance holds it: that instance is claiming it.
        candidate = aliased(OutboxMessage)
        target = OutboxMessage.id.in_(
            select(candidate.id).where(candidate.id == row_id, candidate.status == PENDING)
            .with_for_update(skip_locked=True).scalar_subquery()
        )
    statement = (
        update(OutboxMessage)
        .where(target, OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now,
               ~_blocked_by_earlier(now))
        .values(status=SENDING, claimed_at=now, claimed_by=worker_id, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    async with session_scope() as session:
        result = await session.execute(statement)
    return rows_changed(result) == 1


async def _set(row_id: int, only_if: Sequence[str], **values: Any) -> bool:
    statement = (
        update(OutboxMessage).where(OutboxMessage.id == row_id, OutboxMessage.status.in_(only_if))
        .values(**values).execution_options(synchronize_session=False)
    )
    async with session_scope() as session:
        result = await session.execute(statement)
    return rows_changed(result) == 1


async def attempt(due: _Due, dispatch: Dispatch, worker_id: str) -> str:
    """One delivery attempt of one row; the row's status afterwards (or "skipped" if not ours)."""
    now = clock()
    if until := quiet_until(now, due.channel, urgent=due.urgent, kind=due.kind):
        await _set(due.id, [PENDING], next_attempt_at=until)
        return PENDING
    if due.kind != "reply":
        async with session_scope() as session:
            out = await opted_out(session, due.conversation_id)
        if out:
            await _set(due.id, [PENDING], status=CANCELLED, last_error="opted out")
            return CANCELLED
    await limiter.acquire(due.channel)
    if not await _claim(due.id, worker_id):
        return "skipped"
    async with session_scope() as session:
        row = await session.get(OutboxMessage, due.id)
        conversation = await session.get(Conversation, due.conversation_id)
    if row is None or conversation is None:  # the conversation was erased meanwhile
        return "skipped"
    token = sending_row.set(row.id)
    try:
        provider_id = await dispatch(conversation, row)
    except DeliveryError as error:
        return await _failed(row, error.reason, permanent=error.permanent, retry_after=error.retry_after)
    except Exception as error:  # an unexpected provider answer or a bug: retried like a provider failure
        log.warning("outbox row %s: unexpected %s", row.id, type(error).__name__)
        return await _failed(row, f"unexpected {type(error).__name__}", permanent=False, retry_after=None)
    finally:
        sending_row.reset(token)
    # A row a lease sweep marked unknown while we were sending still went out: record the truth. A row
    # a receipt has settled meanwhile keeps what the provider said.
    await _set(row.id, [SENDING, UNKNOWN], status=SENT, provider_id=provider_id, sent_at=clock(), last_error=None)
    log.info("outbox row %s sent on %s (attempt %s)", row.id, row.channel, row.attempts)
    return SENT


async def _failed(row: OutboxMessage, reason: str, *, permanent: bool, retry_after: float | None) -> str:
    if permanent or row.attempts >= outbox_settings().max_attempts:
        await _set(row.id, [SENDING], status=FAILED, last_error=reason)
        log.warning("outbox row %s failed for good after %s attempts: %s", row.id, row.attempts, reason)
        return FAILED
    delay = backoff_seconds(row.attempts, retry_after)
    await _set(row.id, [SENDING], status=PENDING, last_error=reason, next_attempt_at=clock() + timedelta(seconds=delay))
    log.info("outbox row %s: attempt %s failed (%s), retry in %.0f s", row.id, row.attempts, reason, delay)
    return PENDING


async def expire_interrupted() -> int:
    """Rows left "sending" longer than the lease belonged to a worker that died mid-call: unknown."""
    deadline = clock() - timedelta(seconds=outbox_settings().lease_seconds)
    statement = (
        update(OutboxMessage).where(OutboxMessage.status == SENDING, OutboxMessage.claimed_at < deadline)
        .values(status=UNKNOWN, last_error=INTERRUPTED).execution_options(synchronize_session=False)
    )
    async with session_scope() as session:
        result = await session.execute(statement)
    if rows_changed(result):
        log.warning("outbox: %s row(s) interrupted while sending, outcome unknown, not resent", rows_changed(result))
    return rows_changed(result)


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


_PROCESS_WORKER_ID = worker_name()


async def deliver_now(row_ids: Sequence[int], dispatch: Dispatch) -> list[str]:
    """Send these rows now, in order, stopping at the first that does not go (the worker retries it)."""
    statuses = []
    for row_id in row_ids:
        async with session_scope() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None or row.status != PENDING or as_utc(row.next_attempt_at) > clock():
                break
            due = _Due(row.id, row.conversation_id, row.channel, row.kind, row.urgent)
        status = await attempt(due, dispatch, _PROCESS_WORKER_ID)
        statuses.append(status)
        if status != SENT:
            break
    if worker := _worker:
        worker.wake()  # whatever did not go now is the worker's
    return statuses


async def purge_old() -> None:
    """Receipts and button tokens only matter for a while; they hold no message text."""
    now = clock()
    async with session_scope() as session:
        await session.execute(delete(InboundReceipt).where(InboundReceipt.received_at < now - RECEIPTS_KEPT))
        await session.execute(delete(CallbackToken).where(CallbackToken.created_at < now - TOKENS_KEPT))


# ---------------------------------------------------------------- the worker


class Worker:
    """Delivers due rows in the background of a back-office process; several instances may run."""

    def __init__(self, dispatch: Dispatch, name: str | None = None) -> None:
        self.dispatch = dispatch
        self.name = name or worker_name()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._last_purge = 0.0

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self, sweep: bool = True) -> int:
        """One pass: sweep interrupted rows, attempt every due row once; how many were attempted."""
        s = outbox_settings()
        if sweep:
            await expire_interrupted()
        due = await due_rows(limit=s.concurrency * 4)
        semaphore = asyncio.Semaphore(s.concurrency)

        async def one(item: _Due) -> str:
            async with semaphore:
                return await attempt(item, self.dispatch, self.name)

        # Each due row heads its own conversation (see _blocked_by_earlier), so they may go in parallel.
        results = await asyncio.gather(*(one(item) for item in due))
        return sum(1 for status in results if status != "skipped")

    async def run(self) -> None:
        s = outbox_settings()
        last_sweep = 0.0
        while not self._stopping:
            try:
                # The sweep writes; a few times per lease is enough and spares SQLite an idle write each poll.
                sweep = monotonic_time.monotonic() - last_sweep > max(1.0, s.lease_seconds / 4)
                if sweep:
                    last_sweep = monotonic_time.monotonic()
                attempted = await self.run_once(sweep=sweep)
                if monotonic_time.monotonic() - self._last_purge > 3600:
                    self._last_purge = monotonic_time.monotonic()
                    await purge_old()
            except Exception as error:  # the database is away: keep the worker alive, try again later
                log.warning("outbox worker pass failed: %s", type(error).__name__)
                attempted = 0
            if attempted:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=s.poll_seconds)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name=f"outbox-{self.name}")

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the sends in flight (a cancelled provider call would leave an unknown outcome)."""
        self._stopping = True
        self.wake()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
        except Exception:
            pass
        self._task = None


_worker: Worker | None = None


def start_worker(dispatch: Dispatch) -> Worker:
    global _worker
    _worker = Worker(dispatch)
    _worker.start()
    return _worker


async def stop_worker() -> None:
    global _worker
    if _worker is not None:
        await _worker.stop()
    _worker = None


# ---------------------------------------------------------------- reading


async def get_entry(row_id: int) -> OutboxEntry | None:
    async with session_scope() as session:
        row = await session.get(OutboxMessage, row_id)
        return OutboxEntry.of(row) if row else None


async def entries_for(conversation_id: str | None, status: str | None = None, limit: int = 100) -> list[OutboxEntry]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if conversation_id:
        query = query.where(OutboxMessage.conversation_id == conversation_id)
    if status:
        query = query.where(OutboxMessage.status == status)
    async with session_scope() as session:
        return [OutboxEntry.of(row) for row in (await session.scalars(query)).all()]


def _unsettled() -> Any:
    """Rows whose outcome a receipt may settle: in flight, unknown, or marked failed as interrupted
    before "unknown" existed."""
    return or_(OutboxMessage.status.in_([SENDING, UNKNOWN]),
               and_(OutboxMessage.status == FAILED, OutboxMessage.last_error == INTERRUPTED))


async def set_provider_status(
    channel: str, provider_id: str, provider_status: str, error: str | None, *, row_id: int | None = None,
    outcome: str | None = None,
) -> bool:
    """A delivery receipt from the provider (Twilio's status callback); False if it matches no row.

    `row_id` is our reference echoed by the provider: it finds a row whose provider id was never
    recorded (the worker died before the provider answered), provided the row has no other provider id.
    `outcome` (SENT: the provider has it; FAILED: it will not be delivered) settles a row whose outcome
    was not known; a row already sent or failed keeps its status, so receipts arriving out of order
    cannot undo one another, and only the provider's status and error are recorded on it.
    """
    if row_id is not None:
        target = and_(OutboxMessage.id == row_id, OutboxMessage.channel == channel,
                      or_(OutboxMessage.provider_id.is_(None), OutboxMessage.provider_id == provider_id))
    else:
        target = and_(OutboxMessage.channel == channel, OutboxMessage.provider_id == provider_id)
    values: dict = {"provider_status": provider_status[:40], "provider_id": provider_id}
    if error:
        values["last_error"] = error[:400]
    settle: dict = {}
    if outcome == SENT:
        settle = {"status": SENT, "sent_at": clock(), "last_error": error[:400] if error else None}
    elif outcome == FAILED:
        settle = {"status": FAILED, "last_error": (error or f"provider status {provider_status}")[:400]}
    async with session_scope() as session:
        if settle:
            settled = await session.execute(
                update(OutboxMessage).where(target, _unsettled()).values({**values, **settle})
                .execution_options(synchronize_session=False))
            if rows_changed(settled):
                log.info("outbox row(s) settled %s by a %s receipt", settle["status"], channel)
                return True
        result = await session.execute(
            update(OutboxMessage).where(target).values(**values).execution_options(synchronize_session=False))
    return bool(rows_changed(result))


__all__ = [
    "CANCELLED", "FAILED", "PENDING", "SENDING", "SENT", "UNKNOWN", "DeliveryError", "OutboxEntry", "Worker",
    "attempt", "deliver_now", "due_rows", "enqueue", "entries_for", "existing", "expire_interrupted", "get_entry",
    "quiet_until", "sending_row", "set_provider_status", "start_worker", "stop_worker",
]
