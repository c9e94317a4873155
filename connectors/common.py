"""What the Telegram and SMS connectors share: their own notices, their texts, webhook bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from bot.conversation.message_path import RECORDING_ERRORS, NotRecorded
from bot.conversation.models import Conversation
from bot.conversation.transcript import Reply, conversation_for, record_incoming, record_outgoing, record_receipt
from bot.core.config import settings
from bot.core.datafiles import load, localized
from bot.core.db import session_scope
from bot.core.language import supported_languages
from bot.messaging import delivery


class BodyTooLarge(Exception):
    pass


def channel_text(key: str, language: str) -> str:
    return localized(load("channels")[key], language)


def language_from_hint(hint: str | None) -> str | None:
    """A supported language from a client's language code ("en-GB" → "en")."""
    code = (hint or "").split("-")[0].lower()
    return code if code in supported_languages() else None


async def notice(
    channel: str, sender: str, key: str, *, reply_key: str, receipt: str | None = None, incoming: str | None = None,
    incoming_payload: dict[str, Any] | None = None, language: str | None = None, language_hint: str | None = None,
    buttons: list[dict[str, str]] | None = None,
    also: Callable[[AsyncSession, Conversation], Awaitable[None]] | None = None,
) -> str | None:
    """A message the connector answers itself (unsupported content, opt-out, commands), recorded and
    sent; the conversation's id, or None when `receipt` shows a redelivery (see handle_incoming).

    One transaction: the receipt, what the patient sent, the answer and its outbox rows.
    `language` sets the conversation's language; `language_hint` only chooses it for a new conversation.
    `also`: what the message changes besides (SMS STOP: the opt-out), in the same transaction.
    """
    try:
        async with session_scope() as session:
            if receipt is not None and not await record_receipt(session, channel, receipt):
                return None
            conversation = await conversation_for(
                session, channel, sender, language_hint or settings().default_language)
            if language:
                conversation.language = language
            if also is not None:
                await also(session, conversation)
            if incoming is not None:
                await record_incoming(session, conversation, incoming, conversation.language, payload=incoming_payload)
            reply = Reply(text=channel_text(key, conversation.language), buttons=buttons or [])
            await record_outgoing(session, conversation, reply, author="system")
            ids = await delivery.enqueue_replies(session, conversation, [reply], key_prefix=reply_key)
            conversation_id = conversation.id
    except RECORDING_ERRORS as error:
        raise NotRecorded(type(error).__name__) from error
    await delivery.deliver_enqueued(ids)
    return conversation_id


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)
