"""Provider payloads as Telegram and Twilio send them, and small helpers the channel tests share."""

from __future__ import annotations

import itertools
import random
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select

BOT_TOKEN = "123456:TEST-token"
WEBHOOK_SECRET = "telegram-secret-for-tests"
TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "twilio-auth-token-for-tests"
PUBLIC_URL = "https://parcours.example.org"
SMS_URL = PUBLIC_URL + "/webhooks/sms"

_update_ids = itertools.count(random.randint(10_000_000, 90_000_000))
_chat_ids = itertools.count(random.randint(100_000_000, 900_000_000))
_sids = itertools.count(1)
_phones = itertools.count(random.randint(10_000_000, 80_000_000))


def new_chat() -> int:
    return next(_chat_ids)


def new_phone() -> str:
    return f"+336{next(_phones):08d}"


def new_sid() -> str:
    return f"SM{random.getrandbits(64):016x}{next(_sids):016d}"


def _user(chat_id: int, language_code: str | None) -> dict[str, Any]:
    user: dict[str, Any] = {"id": chat_id, "is_bot": False, "first_name": "Patient"}
    if language_code:
        user["language_code"] = language_code
    return user


def message_update(chat_id: int, *, language_code: str | None = "fr", update_id: int | None = None,
                   field: str = "message", **content: Any) -> dict[str, Any]:
    message = {"message_id": random.randint(1, 10_000), "date": 1_764_000_000,
               "chat": {"id": chat_id, "type": "private", "first_name": "Patient"},
               "from": _user(chat_id, language_code), **content}
    if field == "edited_message":
        message["edit_date"] = 1_764_000_100
    return {"update_id": update_id if update_id is not None else next(_update_ids), field: message}


def text_update(chat_id: int, text: str, **kwargs: Any) -> dict[str, Any]:
    return message_update(chat_id, text=text, **kwargs)


def callback_update(chat_id: int, data: str, *, language_code: str | None = "fr") -> dict[str, Any]:
    return {"update_id": next(_update_ids), "callback_query": {
        "id": f"cbq-{random.getrandbits(32)}", "from": _user(chat_id, language_code), "chat_instance": "ci",
        "data": data, "message": {"message_id": 7, "date": 1_764_000_000, "text": "…",
                                  "chat": {"id": chat_id, "type": "private"}}}}


UNSUPPORTED = {
    "sticker": {"sticker": {"file_id": "s", "file_unique_id": "s1", "width": 512, "height": 512, "is_animated": False,
                            "is_video": False, "type": "regular"}},
    "photo": {"photo": [{"file_id": "p", "file_unique_id": "p1", "width": 90, "height": 90}], "caption": "ça"},
    "voice": {"voice": {"file_id": "v", "file_unique_id": "v1", "duration": 3}},
    "location": {"location": {"latitude": 48.85, "longitude": 2.35}},
}


async def post_update(client, update: dict[str, Any] | str | bytes, secret: str | None = WEBHOOK_SECRET):
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    if isinstance(update, dict):
        return await client.post("/webhooks/telegram", json=update, headers=headers)
    return await client.post("/webhooks/telegram", content=update,
                             headers={**headers, "Content-Type": "application/json"})


def sms_form(sender: str, body: str, **extra: str) -> dict[str, str]:
    return {"MessageSid": extra.pop("MessageSid", new_sid()), "AccountSid": TWILIO_SID, "From": sender,
            "To": "+33700000000", "Body": body, "NumMedia": "0", **extra}


async def post_sms(client, form: dict[str, str], signature: str | None = "valid", url: str = SMS_URL,
                   path: str = "/webhooks/sms"):
    from tests.channels.conftest import twilio_signature

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "valid":
        headers["X-Twilio-Signature"] = twilio_signature(url, form)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return await client.post(path, content=urlencode(form), headers=headers)


async def run_worker(passes: int = 1) -> int:
    """What the back office's worker does in the background, one pass at a time."""
    from bot.messaging import delivery, outbox

    worker = outbox.Worker(delivery.dispatch, name="test-worker")
    return sum([await worker.run_once() for _ in range(passes)])


async def conversation_of(channel: str, sender: str):
    from bot.conversation.models import Conversation
    from bot.core import db

    async with db.session_scope() as session:
        return await session.scalar(select(Conversation).where(Conversation.channel == channel,
                                                               Conversation.sender == sender))


async def count_messages(channel: str, sender: str) -> int:
    from bot.conversation.models import Conversation, Message
    from bot.core import db

    async with db.session_scope() as session:
        return await session.scalar(select(func.count(Message.id)).join(Conversation).where(
            Conversation.channel == channel, Conversation.sender == sender)) or 0


async def outbox_rows(conversation_id: str | None = None):
    from bot.core import db
    from bot.messaging.models import OutboxMessage

    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if conversation_id:
        query = query.where(OutboxMessage.conversation_id == conversation_id)
    async with db.session_scope() as session:
        return list((await session.scalars(query)).all())


async def failing_write(*args, **kwargs):
    """Stands in for the transcript's write: the database refuses it (a full disk)."""
    from sqlalchemy.exc import OperationalError

    raise OperationalError("INSERT INTO messages", {}, Exception("disk full"))
