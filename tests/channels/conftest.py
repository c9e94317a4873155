"""Local fakes of the providers' documented HTTP APIs, the engine replaced, a fresh outbox per test.

- FakeTelegram: the Bot API (POST /bot<token>/<method>) as python-telegram-bot calls it through
  its `base_url`: records sendMessage and answerCallbackQuery, serves getUpdates, fails on demand.
- FakeTwilio: POST /2010-04-01/Accounts/<sid>/Messages.json with basic auth, fails on demand.
Both listen on a free localhost port, in the tests' own event loop.
"""

from __future__ import annotations

import base64
import itertools
import json
import time
from typing import Any

import httpx
import pytest
from aiohttp import web
from sqlalchemy import delete
from twilio.request_validator import RequestValidator

from bot.conversation import engine
from tests.channels.builders import BOT_TOKEN, PUBLIC_URL, TWILIO_SID, TWILIO_TOKEN, WEBHOOK_SECRET


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # the free port the OS picked
    return runner, f"http://127.0.0.1:{port}"


class FakeTelegram:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.failures: list[int] = []  # HTTP statuses for the next sendMessage calls
        self.updates: list[dict[str, Any]] = []
        self._ids = itertools.count(100)
        self.url = ""
        self.runner: web.AppRunner | None = None

    def reset(self) -> None:
        self.calls.clear()
        self.failures.clear()
        self.updates.clear()

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return [c["params"] for c in self.calls if c["method"] == "sendMessage" and c["ok"]
                and (chat_id is None or int(c["params"]["chat_id"]) == chat_id)]

    def called(self, method: str) -> list[dict[str, Any]]:
        return [c["params"] for c in self.calls if c["method"] == method]

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != BOT_TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        for key in ("reply_markup", "allowed_updates", "link_preview_options"):
            if isinstance(params.get(key), str):
                params[key] = json.loads(params[key])
        call = {"method": method, "params": params, "ok": True}
        self.calls.append(call)
        if method == "sendMessage":
            if self.failures:
                status = self.failures.pop(0)
                call["ok"] = False
                body: dict[str, Any] = {"ok": False, "error_code": status, "description": "fake failure"}
                if status == 429:
                    body["parameters"] = {"retry_after": 30}
                return web.json_response(body, status=status)
            return web.json_response({"ok": True, "result": {
                "message_id": next(self._ids), "date": int(time.time()), "text": params.get("text", ""),
                "chat": {"id": int(params["chat_id"]), "type": "private"}}})
        if method == "getMe":
            return web.json_response({"ok": True, "result": {"id": 42, "is_bot": True, "first_name": "Parcours",
                                                             "username": "parcours_test_bot"}})
        if method == "getUpdates":
            updates, self.updates = self.updates, []
            return web.json_response({"ok": True, "result": updates})
        return web.json_response({"ok": True, "result": True})  # answerCallbackQuery, deleteWebhook…

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        self.runner, self.url = await _serve(app)


class FakeTwilio:
    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.failures: list[tuple[int, int | None]] = []  # (HTTP status, Twilio error code)
        self.requests = 0
        self.url = ""
        self.runner: web.AppRunner | None = None

    def reset(self) -> None:
        self.messages.clear()
        self.failures.clear()
        self.requests = 0

    def to(self, number: str) -> list[str]:
        return [m["Body"] for m in self.messages if m["To"] == number]

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if request.headers.get("Authorization") != expected or request.match_info["sid"] != TWILIO_SID:
            return web.json_response({"code": 20003, "message": "Authenticate", "status": 401}, status=401)
        form = dict(await request.post())
        if self.failures:
            status, code = self.failures.pop(0)
            return web.json_response({"code": code, "message": "fake failure", "status": status}, status=status)
        self.messages.append(form)
        sid = f"SM{len(self.messages):032d}"
        return web.json_response({"sid": sid, "status": "queued", "to": form["To"], "body": form["Body"]}, status=201)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self.handle)
        self.runner, self.url = await _serve(app)


@pytest.fixture(scope="session")
async def fake_telegram():
    fake = FakeTelegram()
    await fake.start()
    yield fake
    await fake.runner.cleanup()


@pytest.fixture(scope="session")
async def fake_twilio():
    fake = FakeTwilio()
    await fake.start()
    yield fake
    await fake.runner.cleanup()


class ChannelEngine:
    """Answers like the gateway: Rasa-style replies; what it returns can be set per test."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.triggered: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] | None = None
        self.down = False

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        self.received.append({"sender": conversation_id, "text": text, "metadata": metadata})
        if self.down:
            raise engine.EngineUnavailable("fake engine is down")
        if self.replies is not None:
            return self.replies
        return [{"recipient_id": conversation_id, "text": f"echo: {text[:60]}", "buttons": [
            {"title": "Cardiologie", "payload": '/inform_service{"service":"cardio"}'},
            {"title": "Rythmologie", "payload": '/inform_service{"service":"cardiologie_interventionnelle_rythmologie"}'},
        ]}]

    async def trigger(self, conversation_id: str, intent: str, entities: dict | None = None) -> dict:
        self.triggered.append({"conversation_id": conversation_id, "intent": intent, "entities": entities})
        if self.down:
            raise engine.EngineUnavailable("fake engine is down")
        return {"tracker": {}}


@pytest.fixture
def fake_engine(monkeypatch) -> ChannelEngine:
    fake = ChannelEngine()
    monkeypatch.setattr("bot.conversation.engine.send_to_engine", fake.send)
    monkeypatch.setattr("bot.conversation.engine.trigger_intent", fake.trigger)
    return fake


@pytest.fixture(autouse=True)
async def channels_env(monkeypatch, migrated_database, fake_telegram, fake_twilio):
    """Both channels configured against the fakes; no quiet hours, no rate limits, immediate retries."""
    from bot.core import config as channel_settings
    from bot.core import db
    from bot.messaging.models import OutboxMessage

    env = {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN, "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TELEGRAM_API_BASE_URL": fake_telegram.url, "SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_FROM_NUMBER": "+33700000000", "TWILIO_API_BASE_URL": fake_twilio.url,
        "PARCOURS_PUBLIC_URL": PUBLIC_URL, "OUTBOX_QUIET_HOURS": "off", "OUTBOX_RATE_LIMITS": "",
        "OUTBOX_RETRY_BASE_SECONDS": "0", "OUTBOX_MAX_ATTEMPTS": "5", "SMS_MAX_SEGMENTS": "4",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    channel_settings.reset_settings()
    fake_telegram.reset()
    fake_twilio.reset()
    async with db.session_scope() as session:
        await session.execute(delete(OutboxMessage))  # each test sees only its own deliveries
    yield
    channel_settings.reset_settings()


@pytest.fixture
async def client(migrated_database):
    from bot.main import create_app

    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def twilio_signature(url: str, form: dict[str, str]) -> str:
    return RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
