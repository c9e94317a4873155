"""Web sessions are issued by the server: a client-chosen, tampered or idle id is refused on the
socket's hello, the history and POST /api/chat; reads of a history are rate-limited."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from bot.core import db
from bot.main import create_app
from tests.web.fake_engine import ScriptedEngine
from tests.web.sessions import tampered, web_session

CHOSEN = "AAAAAAAAAAAAAAAA"  # what a script would send: well-formed, never issued
DAY = 86400


@pytest.fixture
async def app_owns_the_database(migrated_database):
    await db.dispose()
    yield
    await db.dispose()


@pytest.fixture
def client(app_owns_the_database, monkeypatch):
    monkeypatch.setattr("bot.conversation.engine.send_to_engine", ScriptedEngine().send)
    with TestClient(create_app()) as client:
        yield client


def refused_on_hello(client: TestClient, session: str) -> str:
    with client.websocket_connect("/ws/chat") as socket:
        socket.send_json({"type": "hello", "session": session})
        frame = socket.receive_json()
        assert frame["type"] == "error", frame  # not the history
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == 4400
    return frame["code"]


def refused_over_http(client: TestClient, session: str) -> None:
    history = client.get(f"/api/conversations/web/{session}/history")
    assert history.status_code == 401, history.text
    chat = client.post("/api/chat", json={"sender": session, "text": "bonjour", "channel": "web"})
    assert chat.status_code == 401, chat.text
    chat = client.post("/api/chat", json={"sender": session, "text": "bonjour"})  # web is the default channel
    assert chat.status_code == 401, chat.text


def test_a_client_chosen_session_id_is_refused_everywhere(client):
    assert refused_on_hello(client, CHOSEN) == "invalid_session"
    refused_over_http(client, CHOSEN)


def test_a_tampered_signature_is_refused(client):
    session = tampered(web_session())
    assert refused_on_hello(client, session) == "invalid_session"
    refused_over_http(client, session)
    forged = web_session(key="a key that is not the server's")
    assert refused_on_hello(client, forged) == "invalid_session"
    refused_over_http(client, forged)


def test_a_session_idle_too_long_is_refused_and_its_history_no_longer_served(client, monkeypatch):
    old = web_session(issued=time.time() - 31 * DAY)  # issued long ago, never written in
    assert refused_on_hello(client, old) == "expired_session"
    refused_over_http(client, old)
    # A conversation idle past the setting (here: no message for over a day) expires too.
    session = web_session(issued=time.time() - 3 * DAY)
    assert client.post("/api/chat", json={"sender": session, "text": "bonjour", "channel": "web"}).status_code == 200
    assert client.get(f"/api/conversations/web/{session}/history").json()["messages"]
    monkeypatch.setenv("PARCOURS_WEB_SESSION_IDLE_DAYS", "1")
    import datetime as dt

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime.now(tz) + dt.timedelta(days=2)

    monkeypatch.setattr("connectors.web.sessions.datetime", Later)
    assert refused_on_hello(client, session) == "expired_session"
    refused_over_http(client, session)


def test_a_session_issued_by_the_server_works(client):
    response = client.post("/api/web/sessions")
    assert response.status_code == 201
    session = response.json()["session"]
    assert response.json()["idle_days"] == 30
    assert len(session) <= 64 and session.replace("-", "").replace("_", "").isalnum()
    body = client.post("/api/chat", json={"sender": session, "text": "bonjour", "channel": "web"}).json()
    with client.websocket_connect("/ws/chat") as socket:
        socket.send_json({"type": "hello", "session": session})
        frame = socket.receive_json()
    assert frame["type"] == "history" and frame["conversation_id"] == body["conversation_id"]
    assert client.get(f"/api/conversations/web/{session}/history").status_code == 200
    # The api channel stays open to integrations' own ids.
    assert client.post("/api/chat", json={"sender": CHOSEN, "text": "bonjour", "channel": "api"}).status_code == 200


def test_a_burst_of_history_reads_meets_429_with_retry_after(client):
    session = web_session()
    statuses = []
    for _ in range(200):
        response = client.get(f"/api/conversations/web/{session}/history")
        statuses.append(response.status_code)
        if response.status_code == 429:
            assert int(response.headers["retry-after"]) >= 1
    assert statuses[0] == 200 and statuses.count(429) >= 150
    # Per address too: a script rotating sessions meets the same wall.
    rotated = [client.get(f"/api/conversations/web/{web_session()}/history").status_code for _ in range(200)]
    assert rotated.count(429) >= 50


def test_a_burst_of_socket_hellos_is_slowed_down(client):
    session = web_session()
    closes = []
    for _ in range(30):
        with client.websocket_connect("/ws/chat") as socket:
            socket.send_json({"type": "hello", "session": session})
            frame = socket.receive_json()
            if frame["type"] == "error":
                assert frame["code"] == "slow_down"
                with pytest.raises(WebSocketDisconnect) as closed:
                    socket.receive_json()
                closes.append(closed.value.code)
    assert closes and set(closes) == {4429}
