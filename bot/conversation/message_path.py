"""The message path every channel uses: record, screen, decide the language, ask the engine, record.

    channel → handle_incoming → transcript → red-flag screen → gateway → Rasa → transcript → channel

A patient's message is committed to the transcript before the engine sees it, so nothing is
lost when the engine is down; the patient then gets a polite "try again" with the emergency number.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, overload

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation import engine, identity, turns
from bot.conversation.models import Conversation, Message
from bot.conversation.screening import ScreenResult, screen
from bot.conversation.transcript import (
    Reply,
    conversation_by_id,
    conversation_for,
    has_patient_messages,
    record_incoming,
    record_outgoing,
    record_receipt,
)
from bot.core.config import settings
from bot.core.datafiles import load, message
from bot.core.db import session_scope
from bot.core.language import choose_language, greeting_language, supported_languages
from bot.messaging import delivery
from bot.triage.orientation import emergency_reply, support_reply

log = logging.getLogger(__name__)

MAX_TEXT = 5000  # what we keep; longer messages are cut and the patient is told
MAX_ENGINE_TEXT = 1000  # what the classifier reads: the opening of a message carries its intent
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
# Invisible characters inside a word ("dou\u200bleur") are deleted, not turned into spaces: a
# space would split the word and hide the symptom from the screen.
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Buttons send these intents as "/intent{...}" payloads; anything else starting with "/" typed by a
# patient is read as text, so nobody can type "/restart" or "/emergency" to drive the engine.
BUTTON_INTENTS = frozenset(
    {"affirm", "deny", "inform_service", "inform_exam", "answer", "mistake", "switch_language", "choose"}
)
_PAYLOAD = re.compile(r"^/(?P<intent>[a-z_]+)(?P<entities>\{.*\})?$", re.S)
# An emergency the back office answered without the engine, kept on the latest reply of the
# conversation until the engine has been told: a restarted engine must not resume an old form
# after the patient was told to call the SAMU. Never shown to the patient.
OWED = "engine_owed_emergency"


@dataclass
class Turn:
    conversation_id: str
    language: str
    replies: list[Reply]
    red_flags: list[str]
    read_by_channel: bool = False  # `read_as` gave the message another meaning (an SMS option number)
    owes: dict[str, Any] | None = None  # an emergency answered without the engine, to tell it
    told: dict[str, Any] | None = None  # the owed emergency the engine learnt of during this turn


def clean_text(text: str) -> tuple[str, bool]:
    """Printable, normalised text, and whether it had to be cut."""
    text = unicodedata.normalize("NFC", _CONTROL.sub(" ", _INVISIBLE.sub("", text))).strip()
    return (text[:MAX_TEXT], True) if len(text) > MAX_TEXT else (text, False)


def button_payload(text: str) -> tuple[str, dict] | None:
    """The intent and entities of a button's payload, or None for anything a patient typed."""
    match = _PAYLOAD.match(text)
    if not match or match["intent"] not in BUTTON_INTENTS:
        return None
    try:
        entities = json.loads(match["entities"]) if match["entities"] else {}
    except json.JSONDecodeError:
        entities = {}
    return match["intent"], entities if isinstance(entities, dict) else {}


def language_of_turn(text: str, current: str | None, default: str, *, first_message: bool = False) -> str:
    """A button press is not a sentence: it keeps the language, unless it is the language button."""
    if not text:
        return current or default
    if (payload := button_payload(text)) is not None:
        requested = payload[1].get("language")
        return requested if requested in supported_languages() else (current or default)
    return choose_language(text, current, default, first_message=first_message)


def reply_style(channel: str) -> str:
    """`short` where every character counts (SMS): the engine then picks its short variations."""
    return load("channels")["reply_style"].get(channel, "full")


def engine_message(text: str, language: str, red_flags: list[str], *, orientation: bool = False) -> str:
    """What Rasa receives: a deterministic emergency intent on a red flag; the orientation, with the
    patient's words as its complaint, for a possible emergency or dark thoughts (so the engine asks
    its confirming question instead of the classifier sending the message elsewhere); else the
    patient's words."""
    if red_flags:
        return "/emergency" + json.dumps({"red_flags": red_flags, "language": language})
    if orientation:
        return "/describe_symptoms" + json.dumps({"complaint": text[:MAX_ENGINE_TEXT], "language": language})
    if (payload := button_payload(text)) is not None:
        intent, entities = payload
        # A payload skips the NLU pipeline, so the language must ride along in it.
        return f"/{intent}" + json.dumps({**entities, "language": language})
    return text.lstrip("/")[:MAX_ENGINE_TEXT] or "..."


ReadAs = Callable[[AsyncSession, Conversation, str], Awaitable[str]]
# What a database that cannot be reached raises: SQLAlchemy's errors, and what the drivers let
# through untranslated while connecting (asyncpg: a refused connection, a timeout).
RECORDING_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


class NotRecorded(Exception):
    """The patient's message could not be recorded (database away): nothing of it was kept, so the
    provider should deliver it again (webhooks answer 5xx)."""


@overload
async def handle_incoming(
    channel: str, sender: str, text: str, metadata: dict[str, Any] | None = None, *, receipt: None = None,
    reply_key: str | None = None, language_hint: str | None = None, read_as: ReadAs | None = None,
) -> Turn: ...


@overload
async def handle_incoming(
    channel: str, sender: str, text: str, metadata: dict[str, Any] | None = None, *, receipt: str,
    reply_key: str | None = None, language_hint: str | None = None, read_as: ReadAs | None = None,
) -> Turn | None: ...


async def handle_incoming(
    channel: str, sender: str, text: str, metadata: dict[str, Any] | None = None, *, receipt: str | None = None,
    reply_key: str | None = None, language_hint: str | None = None, read_as: ReadAs | None = None,
) -> Turn | None:
    """One patient message, in two transactions: before the engine (the message and what it
    settles) and after (the replies).

    `receipt`: the provider's id of this message (Telegram update, Twilio MessageSid), recorded with
    the message in one transaction: a redelivery returns None, and a message that could not be
    recorded raises NotRecorded with nothing kept, so that the provider's retry is processed.
    `reply_key`: the replies are also enqueued for delivery on the channel, with the transcript.
    `language_hint`: the language of a new conversation (the patient's app language).
    `read_as`: the channel's reading of the message in the same transaction (SMS: "2" is the second
    option offered), so that a redelivery or a failed write neither consumes nor loses it.
    """
    # The place in the conversation's line is taken before anything is awaited: arrival order.
    ticket = turns.take_ticket((channel, sender))
    try:
        return await _handle(channel, sender, text, metadata, receipt=receipt, reply_key=reply_key,
                             language_hint=language_hint, read_as=read_as, ticket=ticket)
    finally:
        ticket.finish()


async def _handle(
    channel: str, sender: str, text: str, metadata: dict[str, Any] | None, *, receipt: str | None,
    reply_key: str | None, language_hint: str | None, read_as: ReadAs | None, ticket: turns.Ticket,
) -> Turn | None:
    text, truncated = clean_text(text)
    default_language = settings().default_language
    try:
        async with session_scope() as session:
            if receipt is not None and not await record_receipt(session, channel, receipt):
                return None
            conversation = await conversation_for(session, channel, sender, language_hint or default_language)
            read = await read_as(session, conversation, text) if read_as is not None else text
            read_by_channel, text = read != text, read
            # Only a greeting needs to know whether it opens the conversation: ask the database then only.
            first_message = greeting_language(text) is not None and not await has_patient_messages(
                session, conversation.id)
            language = language_of_turn(text, conversation.language, default_language, first_message=first_message)
            conversation.language = language
            incoming = await record_incoming(session, conversation, text, language,
                                             payload={"metadata": metadata} if metadata else None)
            incoming_id = incoming.id
            conversation_id = conversation.id
            verifying = await identity.is_pending(session, conversation_id)
    except RECORDING_ERRORS as error:
        raise NotRecorded(type(error).__name__) from error
    # Committed: from here on, a failure loses no patient message.
    turn = Turn(conversation_id=conversation_id, language=language, replies=[], red_flags=[],
                read_by_channel=read_by_channel)

    if not text:
        turn.replies.append(Reply(text=message("empty_message", language)))
        return await _answer(turn, reply_key)

    result = screen(text, language)
    turn.red_flags = result.red_flags
    if verifying and not result.red_flags:
        await ticket.wait()
        async with session_scope() as session:
            answer = await identity.answer_pending(session, conversation_id, text, language)
            if answer is not None:
                # The number or the code of a phone verification: answered here, never shown to the engine.
                turn.replies.append(Reply(text=answer.text(language)))
                ids = await _record(session, turn, reply_key)
        if answer is not None:
            await delivery.deliver_enqueued(answer.outbox_ids + ids)
            return turn
    if truncated:
        turn.replies.append(Reply(text=message("message_truncated", language)))
    # The back office's own decisions win over what a caller put in the metadata.
    engine_metadata = {**(metadata or {}), "channel": channel, "language": language,
                       "reply_style": reply_style(channel)}
    # The red flag is known already: its answer never waits long for the engine, nor for the
    # conversation's earlier turns in line.
    budget = engine.EMERGENCY_TIMEOUT if result.red_flags else None
    try:
        async with asyncio.timeout(budget):
            await ticket.wait()
            raw = await _ask_engine(
                turn, engine_message(text, language, result.red_flags, orientation=result.needs_orientation),
                engine_metadata)
        turn.replies.extend(Reply.from_rasa(item) for item in raw)
    except (engine.EngineUnavailable, TimeoutError) as error:
        log.warning("engine unavailable for a turn: %s", str(error) or type(error).__name__)
        turn.replies.extend(_without_engine(result, language))
        if result.red_flags:
            turn.owes = {"red_flags": result.red_flags, "language": language, "message": incoming_id}
            ticket.finish()  # the answer is ready: the turns behind need not wait for its recording
    if result.failed:
        turn.replies.append(Reply(text=message("emergency_reminder", language)))
    # The emergency takes over any verification in progress.
    return await _answer(turn, reply_key, cancel_verification=verifying and bool(result.red_flags))


async def _ask_engine(turn: Turn, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The engine's replies to this turn, once it has heard of an emergency it missed.

    The missed emergency goes first, as the screen's own `/emergency{...}` would have: the engine
    then closes the form it interrupted as it does for any red flag (and "it was a mistake" can
    still resume it). Its replies were given by the back office already and are dropped. A turn
    that is an emergency itself needs no replay: it closes the form the same way.
    """
    async with session_scope() as session:
        owed = await owed_emergency(session, turn.conversation_id)
    if owed is not None and not turn.red_flags:
        await engine.send_to_engine(
            turn.conversation_id, engine_message("", owed.get("language", turn.language), owed["red_flags"]),
            {**metadata, "language": owed.get("language", turn.language)})
        turn.told = owed  # told, even if the patient's own message then fails
    replies = await engine.send_to_engine(turn.conversation_id, text, metadata)
    turn.told = owed
    return replies


async def owed_emergency(session: AsyncSession, conversation_id: str) -> dict[str, Any] | None:
    """The emergency the back office answered without the engine and has not told it of yet."""
    payload = await session.scalar(
        select(Message.payload)
        .where(Message.conversation_id == conversation_id, Message.direction == "out", Message.author == "bot")
        .order_by(Message.id.desc()).limit(1))
    owed = (payload or {}).get(OWED)
    return owed if isinstance(owed, dict) and owed.get("red_flags") else None


def _without_engine(result: ScreenResult, language: str) -> list[Reply]:
    if result.red_flags:
        # The emergency answer needs no engine: a patient in danger never gets "try again".
        text, custom = emergency_reply(result.red_flags, None, language)
        return [Reply(text=text, custom=custom)]
    if result.concerns:
        # Dark thoughts: 3114 and a caring word need no engine either.
        return [Reply(text=support_reply(language)), Reply(text=message("engine_unavailable", language))]
    return [Reply(text=message("engine_unavailable", language))]


async def _record(session: AsyncSession, turn: Turn, reply_key: str | None) -> list[int]:
    """The turn's replies in the transcript and, on a provider channel, in the outbox."""
    conversation = await conversation_by_id(session, turn.conversation_id)
    assert conversation is not None
    # What the engine is still owed, read again here: another turn of the conversation may have
    # answered an emergency without the engine meanwhile, and it must not be forgotten.
    owed = turn.owes or await owed_emergency(session, turn.conversation_id)
    if turn.owes is None and owed is not None and owed == turn.told:
        owed = None
    recorded = [await record_outgoing(session, conversation, reply, language=turn.language) for reply in turn.replies]
    if recorded and owed is not None:
        recorded[-1].payload = {**recorded[-1].payload, OWED: owed}
    if reply_key is None:
        return []
    return await delivery.enqueue_replies(session, conversation, turn.replies, key_prefix=reply_key)


async def _answer(turn: Turn, reply_key: str | None, *, cancel_verification: bool = False) -> Turn:
    async with session_scope() as session:
        if cancel_verification:
            await identity.cancel(session, turn.conversation_id)
        ids = await _record(session, turn, reply_key)
    await delivery.deliver_enqueued(ids)
    return turn
