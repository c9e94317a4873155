"""Conversations and the canonical transcript: every message in and out is recorded here first.

The transcript is the hospital's record (nurse inbox, audits); Rasa's tracker is only the
engine's working memory. Message text is health data: it goes to the database, never to logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversation.models import Conversation, InboundReceipt, Message
from bot.core.numbers import fill_numbers


@dataclass
class Reply:
    """One message from the assistant, as every channel renders it."""

    text: str = ""
    buttons: list[dict[str, str]] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)

    def as_payload(self) -> dict[str, Any]:
        return {key: value for key, value in (("buttons", self.buttons), ("custom", self.custom)) if value}

    @classmethod
    def from_rasa(cls, message: dict[str, Any]) -> Reply:
        """The engine's responses (domain.yml) name emergency numbers by code: filled here."""
        buttons = [
            {"title": fill_numbers(str(b.get("title", ""))), "payload": str(b.get("payload", b.get("title", "")))}
            for b in message.get("buttons") or []
        ]
        custom = message.get("custom") or {}
        if message.get("image"):
            custom = {**custom, "image": message["image"]}
        return cls(text=fill_numbers(message.get("text") or ""), buttons=buttons, custom=custom if isinstance(custom, dict) else {})


async def conversation_for(session: AsyncSession, channel: str, sender: str, language: str) -> Conversation:
    """The conversation of this sender on this channel, created on first contact."""
    query = select(Conversation).where(Conversation.channel == channel, Conversation.sender == sender)
    if found := await session.scalar(query):
        return found
    conversation = Conversation(channel=channel, sender=sender, language=language)
    try:
        async with session.begin_nested():
            session.add(conversation)
    except IntegrityError:
        # Two first messages from the same sender raced; the other one created it.
        return (await session.scalars(query)).one()
    return conversation


async def has_patient_messages(session: AsyncSession, conversation_id: str) -> bool:
    query = select(Message.id).where(Message.conversation_id == conversation_id, Message.direction == "in").limit(1)
    return await session.scalar(query) is not None


async def conversation_by_id(session: AsyncSession, conversation_id: str) -> Conversation | None:
    return await session.get(Conversation, conversation_id)


async def record_incoming(
    session: AsyncSession, conversation: Conversation, text: str, language: str, payload: dict | None = None
) -> Message:
    message = Message(
        conversation_id=conversation.id, direction="in", author="patient", text=text, language=language,
        payload=payload or {},
    )
    session.add(message)
    await session.flush()
    return message


async def record_receipt(session: AsyncSession, channel: str, external_id: str) -> bool:
    """True the first time a provider delivers this message id; False for a redelivery.

    A unique row, not memory: it holds across restarts and back-office instances, and it commits
    with the message it acknowledges.
    """
    try:
        async with session.begin_nested():
            session.add(InboundReceipt(channel=channel, external_id=external_id[:100]))
    except IntegrityError:
        return False
    return True


async def record_outgoing(
    session: AsyncSession, conversation: Conversation, reply: Reply, author: str = "bot", language: str | None = None
) -> Message:
    message = Message(
        conversation_id=conversation.id, direction="out", author=author, text=reply.text,
        payload=reply.as_payload(), language=language or conversation.language,
    )
    session.add(message)
    await session.flush()
    return message


async def history(session: AsyncSession, conversation_id: str, limit: int = 200) -> list[Message]:
    query = (
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id.desc()).limit(limit)
    )
    return list(reversed((await session.scalars(query)).all()))
