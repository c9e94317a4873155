"""The web chat channel: the websocket protocol, the hub of open sockets, and the transcript as the
widget (connectors/web/widget.js) renders it. The routes live in connectors/web/router.py.

The patient is known by the session id the server issued (connectors/web/sessions.py: signed,
refused once idle) and the browser keeps in localStorage: an opaque, unguessable string that is
also the only key to the conversation's history, so it is checked strictly, its reads are
rate-limited (connectors/web/limits.py) and it is never logged.

Frames (JSON text):
  client → server  {"type": "hello", "session": "…"}      first frame; answered with the history
                   {"type": "message", "text": "…"}       a typed message or a button's payload
                   {"type": "ping"}                        keep-alive, answered with a pong
  server → client  {"type": "history", "session", "conversation_id", "language", "messages": [...]}
                   {"type": "echo", "text", "language"}    a message this patient sent from another tab
                   {"type": "typing"}                      the assistant is working on an answer
                   {"type": "reply", "text", "buttons", "custom", "language", "author", "pushed"}
                   {"type": "error", "code", "message"}    the socket stays open unless code says so
                   {"type": "pong"}
A hello with an id the server did not sign, or one idle too long, gets the error `invalid_session`
or `expired_session` and the close code 4400: the widget then asks for a new session.

Several tabs of the same session share one conversation: every tab gets the typing indicator, the
replies and pushed messages; the other tabs also get an echo of what the patient wrote.
Pushed messages (nurse replies, reminders) reach the sockets open in this process; a page with no
open socket shows them when it loads its history.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import defaultdict, deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from sqlalchemy import select

from bot.conversation.client import client_address
from bot.conversation.message_path import handle_incoming
from bot.conversation.models import Conversation, Message
from bot.conversation.transcript import Reply, history
from bot.core.datafiles import message
from bot.core.db import session_scope
from connectors.common import channel_text
from connectors.web import sessions
from connectors.web.limits import reads

log = logging.getLogger(__name__)

CHANNEL = "web"
SESSION_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
SESSION_PROBLEM = ("a web session id is 16 to 64 characters among A-Z, a-z, 0-9, '-' and '_', "
                   "issued by POST /api/web/sessions")
MAX_FRAME = 64 * 1024  # bytes of one client frame
MAX_TEXT = 20_000  # characters, as POST /api/chat accepts; the message path keeps the first 5,000
HELLO_TIMEOUT = 10.0  # seconds a socket may stay open without saying hello
SEND_TIMEOUT = 5.0  # a tab that cannot take a frame in this time is dropped, not waited for
RATE_LIMIT = (30, 60.0)  # messages per window (seconds) and socket: a patient types far slower
MAX_SOCKETS_PER_SESSION = 12

# Close codes (4000–4999 are the application's).
CLOSE_INVALID_SESSION = 4400
CLOSE_NO_HELLO = 4408
CLOSE_TOO_MANY_TABS = 4429  # also: too many history reads

def valid_session(value: Any) -> bool:
    return isinstance(value, str) and SESSION_PATTERN.fullmatch(value) is not None


async def session_problem(value: Any) -> sessions.Problem | None:
    """Why this id cannot be used as a web session (not issued here, or idle too long), or None."""
    return "invalid_session" if not valid_session(value) else await sessions.problem(value)


def _text(key: str, language: str) -> str:
    """The web chat's own texts live with the other channels' (bot/messaging/data/channels.yml)."""
    return channel_text(f"web_{key}", language)


# --- The transcript as the widget shows it -------------------------------------------------------


def render_messages(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Transcript rows as widget messages. A button's payload stored as the patient's message
    (`/inform_service{...}`) is shown as the button's title, as the patient saw it."""
    rendered: list[dict[str, Any]] = []
    offered: dict[str, str] = {}  # payload → title of the buttons offered since the patient last wrote
    for row in messages:
        payload = row.payload or {}
        item: dict[str, Any] = {
            "id": row.id,
            "direction": row.direction,
            "author": row.author,
            "text": row.text,
            "language": row.language,
            "buttons": [],
            "custom": {},
            "created_at": _utc_iso(row.created_at),
        }
        if row.direction == "out":
            buttons = [b for b in payload.get("buttons") or [] if isinstance(b, dict)]
            item["buttons"] = [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                               for b in buttons]
            item["custom"] = payload.get("custom") if isinstance(payload.get("custom"), dict) else {}
            offered.update({b["payload"]: b["title"] for b in item["buttons"]})
        else:
            item["text"] = display_text(row.text, offered)
            offered = {}
        rendered.append(item)
    return rendered


def _utc_iso(moment: datetime | None) -> str | None:
    """ISO 8601 with its offset: SQLite returns the stored UTC times without one, and a browser
    reads an offset-less time as local time."""
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def display_text(text: str, offered: dict[str, str]) -> str:
    return offered.get(text, text) if text.startswith("/") else text


async def load_history(session_id: str) -> dict[str, Any]:
    """The conversation of this browser session, as the widget restores it after a reload."""
    async with session_scope() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.channel == CHANNEL, Conversation.sender == session_id))
        if conversation is None:
            return {"session": session_id, "conversation_id": None, "language": None, "messages": []}
        rows = await history(session, conversation.id)
        return {"session": session_id, "conversation_id": conversation.id, "language": conversation.language,
                "messages": render_messages(rows)}


def reply_frame(reply: Reply, language: str, pushed: bool = False, author: str = "bot") -> dict[str, Any]:
    return {"type": "reply", "text": reply.text, "buttons": reply.buttons, "custom": reply.custom,
            "language": language, "author": author, "pushed": pushed}


# --- The hub: the open sockets of each session ---------------------------------------------------


class Hub:
    """The websockets open in this process, by browser session. Sending never raises: a tab that
    is gone or too slow is dropped."""

    def __init__(self) -> None:
        self._sockets: dict[str, set[WebSocket]] = defaultdict(set)
        self._locks: dict[WebSocket, asyncio.Lock] = {}

    def add(self, session_id: str, socket: WebSocket) -> bool:
        tabs = self._sockets[session_id]
        if len(tabs) >= MAX_SOCKETS_PER_SESSION:
            return False
        tabs.add(socket)
        self._locks[socket] = asyncio.Lock()
        return True

    def remove(self, session_id: str, socket: WebSocket) -> None:
        tabs = self._sockets.get(session_id)
        if tabs is not None:
            tabs.discard(socket)
            if not tabs:
                del self._sockets[session_id]
        self._locks.pop(socket, None)

    def registered(self, socket: WebSocket) -> bool:
        return socket in self._locks

    def sockets(self, session_id: str) -> list[WebSocket]:
        return list(self._sockets.get(session_id, ()))

    def count(self, session_id: str | None = None) -> int:
        if session_id is not None:
            return len(self._sockets.get(session_id, ()))
        return sum(len(tabs) for tabs in self._sockets.values())

    async def send(self, socket: WebSocket, frame: dict[str, Any]) -> bool:
        lock = self._locks.get(socket)
        if lock is None:
            return False
        try:
            async with lock:
                await asyncio.wait_for(socket.send_json(frame), SEND_TIMEOUT)
            return True
        except Exception:  # closed, reset or stuck: the page reloads its history when it comes back
            for session_id, tabs in list(self._sockets.items()):
                if socket in tabs:
                    self.remove(session_id, socket)
            return False

    async def broadcast(self, session_id: str, frame: dict[str, Any], exclude: WebSocket | None = None) -> int:
        targets = [s for s in self.sockets(session_id) if s is not exclude]
        results = await asyncio.gather(*(self.send(s, frame) for s in targets))
        return sum(results)

    async def deliver(self, conversation: Conversation, reply: Reply) -> None:
        """The web channel's deliverer (bot.messaging.delivery): a message the patient did not ask for."""
        sent = await self.broadcast(conversation.sender, reply_frame(reply, conversation.language, pushed=True))
        if not sent:
            log.info("web session not connected; the message waits in the transcript")


hub = Hub()


# --- One socket ----------------------------------------------------------------------------------


class _RateLimit:
    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window, self.times = limit, window, deque()

    def allow(self) -> bool:
        now = time.monotonic()
        while self.times and now - self.times[0] > self.window:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True


async def serve(socket: WebSocket) -> None:
    """The life of one websocket: hello, then messages until the tab goes away."""
    await socket.accept()
    session_id: str | None = None
    try:
        opened = await _hello(socket)
        if opened is None:
            return
        session_id, language = opened
        await _conversation(socket, session_id, language)
    except WebSocketDisconnect:
        pass
    finally:
        if session_id is not None:
            hub.remove(session_id, socket)


async def _receive(socket: WebSocket) -> str:
    """The next text frame; a binary frame reads as an empty, invalid one."""
    frame = await socket.receive()
    if frame["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(frame.get("code", 1000))
    return frame.get("text") or ""


async def _hello(socket: WebSocket) -> tuple[str, str] | None:
    language = "fr"
    while True:
        try:
            raw = await asyncio.wait_for(_receive(socket), HELLO_TIMEOUT)
        except TimeoutError:
            await socket.close(CLOSE_NO_HELLO, "hello expected")
            return None
        frame = _parse(raw)
        if frame is None:
            await _error(socket, "too_long" if len(raw) > MAX_FRAME else "invalid_json", language)
            continue
        if frame.get("lang") in ("fr", "en"):
            language = frame["lang"]
        if frame.get("type") == "ping":
            await socket.send_json({"type": "pong"})
            continue
        if frame.get("type") != "hello":
            await _error(socket, "hello_first", language)
            continue
        given = frame.get("session")
        session_id = given if isinstance(given, str) and valid_session(given) else None
        # Counted before the signature is checked: guessing ids costs the budget reading them does.
        if session_id is not None and reads.history(session_id, client_address.get()) is not None:
            await socket.send_json({"type": "error", "code": "slow_down", "message": _text("slow_down", language)})
            await socket.close(CLOSE_TOO_MANY_TABS, "too many history reads")
            return None
        refused = "invalid_session" if session_id is None else await sessions.problem(session_id)
        if refused is not None or session_id is None:
            refused = refused or "invalid_session"
            detail = f" ({SESSION_PROBLEM})" if refused == "invalid_session" else ""
            await socket.send_json({"type": "error", "code": refused, "message": _text(refused, language) + detail})
            await socket.close(CLOSE_INVALID_SESSION, "invalid session id")
            return None
        if not hub.add(session_id, socket):
            await socket.close(CLOSE_TOO_MANY_TABS, "too many tabs")
            return None
        # Registered before the history is read: a push arriving meanwhile is not lost.
        restored = await load_history(session_id)
        await hub.send(socket, {"type": "history", **restored})
        return session_id, restored["language"] or language


async def _conversation(socket: WebSocket, session_id: str, language: str) -> None:
    limit = _RateLimit(*RATE_LIMIT)
    while True:
        raw = await _receive(socket)
        frame = _parse(raw)
        if frame is None:
            await _error(socket, "too_long" if len(raw) > MAX_FRAME else "invalid_json", language)
            continue
        kind = frame.get("type")
        if kind == "ping":
            await hub.send(socket, {"type": "pong"})
        elif kind == "hello":
            # Hello again (the tab resynchronises, or was opened on another session): the history once more.
            if frame.get("session") != session_id:
                await _error(socket, "invalid_session", language)
                continue
            if reads.history(session_id, client_address.get()) is not None:
                await _error(socket, "slow_down", language)
                continue
            await hub.send(socket, {"type": "history", **await load_history(session_id)})
        elif kind == "message":
            text = frame.get("text")
            if not isinstance(text, str):
                await _error(socket, "invalid_json", language)
            elif len(text) > MAX_TEXT:
                await _error(socket, "too_long", language)
            elif not limit.allow():
                await _error(socket, "slow_down", language)
            else:
                language = await _message(socket, session_id, text, language)
        else:
            await _error(socket, "unknown_type", language)


async def _message(socket: WebSocket, session_id: str, text: str, language: str) -> str:
    """One patient message through the message path; every tab of the session sees the turn."""
    shown = await _shown_text(session_id, text)
    await hub.broadcast(session_id, {"type": "echo", "text": shown}, exclude=socket)
    await hub.broadcast(session_id, {"type": "typing"})
    try:
        turn = await handle_incoming(CHANNEL, session_id, text)
    except Exception:
        log.exception("web chat turn failed")  # no message text: it is health data
        await hub.broadcast(session_id, {"type": "error", "code": "server_error",
                                         "message": message("engine_unavailable", language)})
        return language
    for reply in turn.replies:
        await hub.broadcast(session_id, reply_frame(reply, turn.language))
    return turn.language


async def _shown_text(session_id: str, text: str) -> str:
    """What the other tabs show for this message: a button's title rather than its payload."""
    if not text.startswith("/"):
        return text
    async with session_scope() as session:
        conversation = await session.scalar(
            select(Conversation).where(Conversation.channel == CHANNEL, Conversation.sender == session_id))
        if conversation is None:
            return text
        rows = await history(session, conversation.id, limit=20)
    offered: dict[str, str] = {}
    for row in reversed(rows):
        if row.direction == "in":
            break
        offered.update({str(b.get("payload")): str(b.get("title")) for b in (row.payload or {}).get("buttons") or []
                        if isinstance(b, dict)})
    return display_text(text, offered)


def _parse(raw: str) -> dict[str, Any] | None:
    if len(raw) > MAX_FRAME:
        return None
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    return frame if isinstance(frame, dict) else None


async def _error(socket: WebSocket, code: str, language: str) -> None:
    frame = {"type": "error", "code": code, "message": _text(code, language)}
    if hub.registered(socket):
        await hub.send(socket, frame)
    else:  # before hello nobody else sends to this socket
        await socket.send_json(frame)
