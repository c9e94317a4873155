"""The one outbound path: every message the patient did not just ask for, and every reply sent
through a provider, goes through the outbox (bot/messaging/outbox.py) to the patient's own channel.

    send_proactive / trigger_proactive / deliver_from_engine / enqueue_replies (with the message path)
        → transcript + outbox rows (one transaction) → first attempt now → worker retries

Channels plug in through `bot.messaging.channels` (each connector package registers a Channel):
- its renderer turns replies into what the channel sends, one item per provider call (an SMS part,
  a Telegram message), so a retry never resends a part that already went out;
- its deliverer sends one item and returns the provider's id, or raises DeliveryError.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import engine
from bot.conversation.models import Conversation
from bot.conversation.transcript import Reply, conversation_by_id, record_outgoing
from bot.core.db import session_scope
from bot.messaging import outbox
from bot.messaging.channels import Deliverer, Renderer, channel, loaded_channels
from bot.messaging.config import outbox_settings
from bot.messaging.models import OutboxMessage
from bot.messaging.outbox import DeliveryError, OutboxEntry

log = logging.getLogger(__name__)

# Without a live deliverer a web message is still in the transcript: the page shows it on reload.
_TRANSCRIPT_ONLY = {"web"}

__all__ = [
    "DeliveryError", "UnknownConversation", "deliver_enqueued", "deliver_from_engine", "dispatch", "enqueue_proactive",
    "enqueue_replies", "send_proactive", "start", "stop", "trigger_proactive",
]


class UnknownConversation(LookupError):
    pass


def deliverer_for(name: str) -> Deliverer | None:
    found = channel(name)
    return found.deliver if found else None


def _as_is(_: Conversation, replies: list[Reply]) -> list[Reply]:
    return [reply for reply in replies if reply.text or reply.buttons or reply.custom]


def renderer_for(name: str) -> Renderer:
    found = channel(name)
    return found.render if found and found.render else _as_is


def _payload(reply: Reply) -> dict[str, Any]:
    return {"text": reply.text, "buttons": reply.buttons, "custom": reply.custom}


def is_emergency(reply: Reply) -> bool:
    triage = reply.custom.get("triage") if isinstance(reply.custom, dict) else None
    return isinstance(triage, dict) and triage.get("level") == "emergency_call"


# ---------------------------------------------------------------- sending one row


async def dispatch(conversation: Conversation, row: OutboxMessage) -> str | None:
    """What the outbox worker calls for each row: the channel's deliverer, or the engine for a trigger."""
    if row.kind == "trigger":
        try:
            await engine.trigger_intent(conversation.id, row.payload["intent"], row.payload.get("entities") or {})
        except engine.EngineUnavailable as error:
            raise DeliveryError(f"engine: {error}") from error
        return None
    deliverer = deliverer_for(conversation.channel)
    reply = Reply(text=row.payload.get("text", ""), buttons=row.payload.get("buttons") or [],
                  custom=row.payload.get("custom") or {})
    if deliverer is None:
        if conversation.channel in _TRANSCRIPT_ONLY:
            return None
        raise DeliveryError(f"no delivery for channel {conversation.channel}", permanent=True)
    return await deliverer(conversation, reply)


# ---------------------------------------------------------------- what features call
#
# Each sending function has a transactional half that takes the caller's session (`enqueue_*`:
# the transcript and the outbox rows commit with whatever else the caller writes) and returns the
# row ids to attempt once that transaction has committed (`deliver_enqueued`).


async def deliver_enqueued(row_ids: Sequence[int]) -> list[str]:
    """Attempt rows the caller's transaction has committed; what does not go now is the worker's."""
    return await outbox.deliver_now(row_ids, dispatch) if row_ids else []


async def _enqueue_once(
    session: AsyncSession, idempotency_key: str, rows_for: Callable[[], Awaitable[list[OutboxMessage]]],
) -> list[int]:
    """Enqueue what `rows_for` adds, once per key: [] if the key was enqueued before, even concurrently."""
    if await outbox.existing(session, idempotency_key):
        return []
    try:
        async with session.begin_nested():
            return [row.id for row in await rows_for()]
    except IntegrityError:
        return []  # the same key was enqueued concurrently; that transaction won


async def enqueue_proactive(
    session: AsyncSession, conversation: Conversation, reply: Reply, *, idempotency_key: str, urgent: bool = False,
    author: str = "bot",
) -> list[int]:
    """The transcript message and its outbox rows, in the caller's transaction (see send_proactive)."""

    async def rows_for() -> list[OutboxMessage]:
        message = await record_outgoing(session, conversation, reply, author=author)
        parts = renderer_for(conversation.channel)(conversation, [reply])
        return await outbox.enqueue(
            session, conversation, [_payload(part) for part in parts], kind="proactive",
            idempotency_key=idempotency_key, urgent=urgent, message_id=message.id,
        )

    return await _enqueue_once(session, idempotency_key, rows_for)


async def enqueue_replies(
    session: AsyncSession, conversation: Conversation, replies: Sequence[Reply], *, key_prefix: str,
) -> list[int]:
    """The answers to a patient's message on a provider channel (already in the transcript), as
    outbox rows in the caller's transaction. `key_prefix` names the inbound message (Telegram
    update, Twilio MessageSid), so processing it twice could never send its answers twice."""
    parts = renderer_for(conversation.channel)(conversation, list(replies))
    if not parts:
        return []

    async def rows_for() -> list[OutboxMessage]:
        return await outbox.enqueue(session, conversation, [_payload(p) for p in parts], kind="reply",
                                    idempotency_key=key_prefix)

    return await _enqueue_once(session, key_prefix, rows_for)


async def _entries(idempotency_key: str) -> list[OutboxEntry]:
    async with session_scope() as session:
        return [OutboxEntry.of(row) for row in await outbox.existing(session, idempotency_key)]


async def send_proactive(
    conversation_id: str, reply: Reply, *, idempotency_key: str, urgent: bool = False, author: str = "bot"
) -> list[OutboxEntry]:
    """Send a message the patient did not ask for (reminder, check-in question, nurse reply).

    Recorded in the transcript and the outbox in one transaction, then attempted at once unless quiet
    hours or an opt-out hold it. Calling again with the same key sends nothing and returns the rows
    of the first call. `urgent` ignores quiet hours (never opt-out). Raises UnknownConversation.
    """
    async with session_scope() as session:
        conversation = await conversation_by_id(session, conversation_id)
        if conversation is None:
            raise UnknownConversation(conversation_id)
        ids = await enqueue_proactive(session, conversation, reply, idempotency_key=idempotency_key, urgent=urgent,
                                      author=author)
    await deliver_enqueued(ids)
    return await _entries(idempotency_key)


async def trigger_proactive(
    conversation_id: str, intent: str, entities: dict[str, Any] | None = None, *, idempotency_key: str,
    urgent: bool = False,
) -> list[OutboxEntry]:
    """Start an engine turn for this conversation (a check-in), once, outside quiet hours.

    The engine's replies come back through deliver_from_engine. Retried while the engine is down.
    """
    async with session_scope() as session:
        conversation = await conversation_by_id(session, conversation_id)
        if conversation is None:
            raise UnknownConversation(conversation_id)

        async def rows_for() -> list[OutboxMessage]:
            return await outbox.enqueue(
                session, conversation, [{"intent": intent, "entities": entities or {}}], kind="trigger",
                idempotency_key=idempotency_key, urgent=urgent,
            )

        ids = await _enqueue_once(session, idempotency_key, rows_for)
    await deliver_enqueued(ids)
    return await _entries(idempotency_key)


async def deliver_from_engine(conversation_id: str, message: dict[str, Any]) -> bool:
    """A reply the engine produced without a patient message (trigger_intent); False if the conversation is unknown.

    Rasa's callback carries no message id, so each call is its own message; the trigger that caused
    it is the idempotent step (trigger_proactive).
    """
    reply = Reply.from_rasa(message)
    try:
        await send_proactive(conversation_id, reply, idempotency_key=f"engine:{uuid.uuid4().hex}",
                             urgent=is_emergency(reply))
    except UnknownConversation:
        return False
    return True


# ---------------------------------------------------------------- lifecycle


async def start() -> None:
    """Start this process's outbox worker (back office lifespan, Telegram polling)."""
    if outbox_settings().worker:
        outbox.start_worker(dispatch)


async def stop() -> None:
    await outbox.stop_worker()
    for found in loaded_channels():  # only the channels this process used have clients to close
        if found.close is None:
            continue
        try:
            await found.close()
        except Exception as error:  # closing clients must not block shutdown
            log.warning("closing %s failed: %s", found.name, type(error).__name__)
