"""What the Telegram and SMS connectors share: redelivery detection, their own notices, webhook bodies."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.requests import Request

from bot.messaging import delivery
from bot.core.config import settings
from bot.core.datafiles import load, localized
from bot.core.db import session_scope
from bot.core.language import supported_languages
from bot.messaging.models import InboundReceipt
from bot.conversation.transcript import Reply, conversation_for, record_incoming, record_outgoing


class BodyTooLarge(Exception):
    pass


class NotRecorded(Exception):
    """The inbound message could not be recorded (database away): the provider should redeliver it."""


def channel_text(key: str, language: str) -> str:
    return localized(load("channels")[key], language)


def language_from_hint(hint: str | None) -> str | None:
    """A supported language from a client's language code ("en-GB" → "en")."""
    code = (hint or "").split("-")[0].lower()
    return code if code in supported_languages() else None


async def first_time(channel: str, external_id: str) -> bool:
    """True the first time a provider delivers this message id; False for a redelivery.

    A unique row, not memory: it holds across restarts and back-office instances.
    """
    try:
        async with session_scope() as session:
            session.add(InboundReceipt(channel=channel, external_id=external_id[:100]))
    except IntegrityError:
        return False
    except Exception as error:
        raise NotRecorded(type(error).__name__) from error
    return True


async def notice(
    channel: str, sender: str, key: str, *, reply_key: str, incoming: str | None = None,
    incoming_payload: dict[str, Any] | None = None, language: str | None = None, language_hint: str | None = None,
    buttons: list[dict[str, str]] | None = None,
) -> str:
    """A message the connector answers itself (unsupported content, opt-out, commands), recorded and sent.

    `language` sets the conversation's language; `language_hint` only chooses it for a new conversation.
    """
    async with session_scope() as session:
        conversation = await conversation_for(session, channel, sender, language_hint or settings().default_language)
        if language:
            conversation.language = language
        if incoming is not None:
            await record_incoming(session, conversation, incoming, conversation.language, payload=incoming_payload)
        reply = Reply(text=channel_text(key, conversation.language), buttons=buttons or [])
        await record_outgoing(session, conversation, reply, author="system")
        conversation_id = conversation.id
    await delivery.send_replies(conversation_id, [reply], key_prefix=reply_key)
    return conversation_id


async def ensure_conversation(channel: str, sender: str, language_hint: str | None) -> None:
    """Create a new conversation in the language the patient's app uses, before the first message."""
    if language_hint:
        async with session_scope() as session:
            await conversation_for(session, channel, sender, language_hint)


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
