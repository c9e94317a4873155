"""Web chat sessions for tests: ids signed as the server signs them (connectors/web/sessions.py),
so that tests posting `web` senders hold a session the back office issued.

Built here rather than by calling the server's own code, so that the format is checked by the tests
as a browser sees it: 48 url-safe characters, base64url of nonce (12) + issue time (6) + HMAC (18).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from functools import cache

CONTEXT = b"parcours web session v1\x00"


def web_session(issued: float | None = None, key: str | None = None) -> str:
    from bot.core.config import settings

    body = secrets.token_bytes(12) + int(time.time() if issued is None else issued).to_bytes(6, "big")
    secret = (settings().web_session_key if key is None else key).encode()
    mac = hmac.new(secret, CONTEXT + body, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(body + mac).decode()


@cache
def named_session(name: str) -> str:
    """The same signed session for the same name within a test run ("p1" → one browser)."""
    return web_session()


def tampered(session: str) -> str:
    """The same id with one character of its signature changed."""
    last = session[-1]
    return session[:-1] + ("A" if last != "A" else "B")
