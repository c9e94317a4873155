"""The web chat's session ids, issued by the server and signed, so that a browser cannot choose
(or guess) the id that is the key to a conversation.

An id is 48 URL-safe characters: base64url of 12 random bytes, the issue time (6 bytes, seconds)
and the first 18 bytes of an HMAC-SHA256 of both with `settings().web_session_key`. It stays within
the 16–64 characters every web session id has had, so stored conversations and the widget's
storage need no change. A session is refused when its signature is wrong and when it has been idle
(no message in its conversation, nor since it was issued) for longer than `idle_days`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from sqlalchemy import func, select

from bot.conversation.models import Conversation, Message
from bot.core.config import settings
from bot.core.db import session_scope

_NONCE, _TIME, _MAC = 12, 6, 18
_FORMAT = re.compile(r"^[A-Za-z0-9_-]{48}$")  # base64url only: '+' and '/' would decode to the same bytes
_CONTEXT = b"parcours web session v1\x00"  # a signature made for anything else never verifies here

Problem = Literal["invalid_session", "expired_session"]


@lru_cache
def _config() -> dict:
    return yaml.safe_load((Path(__file__).resolve().parent / "sessions.yml").read_text(encoding="utf-8"))


def idle_limit() -> timedelta:
    days = os.environ.get("PARCOURS_WEB_SESSION_IDLE_DAYS", "").strip() or _config()["idle_days"]
    return timedelta(days=float(days))


def limit(name: str) -> tuple[int, float]:
    count, window = _config()["limits"][name]
    return int(count), float(window)


def _mac(body: bytes) -> bytes:
    return hmac.new(settings().web_session_key.encode(), _CONTEXT + body, hashlib.sha256).digest()[:_MAC]


def mint(now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    body = secrets.token_bytes(_NONCE) + issued.to_bytes(_TIME, "big")
    return base64.urlsafe_b64encode(body + _mac(body)).decode().rstrip("=")


def issued_at(session_id: str) -> datetime | None:
    """When the server issued this id; None when it did not (bad format or signature)."""
    if not isinstance(session_id, str) or _FORMAT.fullmatch(session_id) is None:
        return None
    raw = base64.urlsafe_b64decode(session_id)
    body, mac = raw[:_NONCE + _TIME], raw[_NONCE + _TIME:]
    if len(mac) != _MAC or not hmac.compare_digest(mac, _mac(body)):
        return None
    return datetime.fromtimestamp(int.from_bytes(body[_NONCE:], "big"), UTC)


async def problem(session_id: str) -> Problem | None:
    """Why this web session id cannot be used, or None when it can."""
    issued = issued_at(session_id)
    if issued is None:
        return "invalid_session"
    now = datetime.now(UTC)
    if now - issued <= idle_limit():  # no conversation can have been idle longer than the id exists
        return None
    async with session_scope() as session:
        last = await session.scalar(
            select(func.max(Message.created_at)).join(Conversation, Message.conversation_id == Conversation.id)
            .where(Conversation.channel == "web", Conversation.sender == session_id))
    if last is not None and last.tzinfo is None:  # SQLite returns the stored UTC time without its offset
        last = last.replace(tzinfo=UTC)
    return "expired_session" if last is None or now - last > idle_limit() else None
