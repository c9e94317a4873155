"""Delivering messages the patient did not ask for (engine-initiated turns, later reminders and
nurse replies) on the patient's own channel.

Each channel connector registers how it delivers; the transcript records the message first, so a
web patient who is not connected sees it when the page reloads its history.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.db import session_scope
from bot.models import Conversation
from bot.transcript import Reply, conversation_by_id, record_outgoing

log = logging.getLogger(__name__)

Deliverer = Callable[[Conversation, Reply], Awaitable[None]]
_deliverers: dict[str, Deliverer] = {}


def register_channel(channel: str, deliver: Deliverer) -> None:
    _deliverers[channel] = deliver


async def deliver_from_engine(conversation_id: str, message: dict[str, Any]) -> bool:
    reply = Reply.from_rasa(message)
    async with session_scope() as session:
        conversation = await conversation_by_id(session, conversation_id)
        if conversation is None:
            return False
        await record_outgoing(session, conversation, reply)
    await deliver(conversation, reply)
    return True


async def deliver(conversation: Conversation, reply: Reply) -> None:
    deliverer = _deliverers.get(conversation.channel)
    if deliverer is None:
        log.info("no live delivery for channel %s; kept in the transcript", conversation.channel)
        return
    await deliverer(conversation, reply)
