"""The web chat channel through FastAPI's TestClient: the websocket protocol, the history,
pushed messages, the demo page and the widget's files. The engine is a scripted fake.
"""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect

from bot.conversation.models import Conversation, Message
from bot.core import db
from bot.main import create_app
from connectors.web import channel as web_channel
from tests.staff import staff_headers
from tests.web.fake_engine import ScriptedEngine
from tests.web.sessions import web_session

CARDIO = '/inform_service{"service":"cardio"}'


def new_session() -> str:
    return web_session()  # as POST /api/web/sessions issues it


@pytest.fixture
def engine(monkeypatch) -> ScriptedEngine:
    fake = ScriptedEngine()
    monkeypatch.setattr("bot.conversation.engine.send_to_engine", fake.send)
    return fake


@pytest.fixture
async def app_owns_the_database(migrated_database):
    """TestClient runs the app on its own thread and event loop: the app builds its own connection
    pool there (and its lifespan disposes of it), never reusing one bound to the tests' loop."""
    await db.dispose()
    yield
    await db.dispose()


@pytest.fixture
def client(app_owns_the_database, engine):
    with TestClient(create_app()) as client:
        yield client


def hello(socket, session: str) -> dict:
    socket.send_json({"type": "hello", "session": session})
    frame = socket.receive_json()
    assert frame["type"] == "history", frame
    return frame


def turn(socket, text: str, replies: int = 1) -> list[dict]:
    """Sends a message and reads frames up to the last reply of the turn (the fake gives one)."""
    socket.send_json({"type": "message", "text": text})
    frames = [socket.receive_json()]
    while sum(f["type"] in ("reply", "error") for f in frames) < replies:
        frames.append(socket.receive_json())
    return frames


def in_app(client: TestClient, function, *args):
    """Runs a coroutine function on the app's event loop (where its database pool lives)."""
    return client.portal.call(function, *args)


async def transcript(session: str) -> list[Message]:
    async with db.session_scope() as s:
        conversation = await s.scalar(select(Conversation).where(Conversation.channel == "web",
                                                                 Conversation.sender == session))
        if conversation is None:
            return []
        return list((await s.scalars(select(Message).where(Message.conversation_id == conversation.id)
                                     .order_by(Message.id))).all())


# --- Hello and history ---------------------------------------------------------------------------


def test_a_new_session_gets_an_empty_history(client):
    session = new_session()
    with client.websocket_connect("/ws/chat") as socket:
        frame = hello(socket, session)
    assert frame == {"type": "history", "session": session, "conversation_id": None, "language": None, "messages": []}


@pytest.mark.parametrize("session", [
    "short", "x" * 65, "has spaces in it here", "ab/cd/ef/gh/ij/kl/mn", "é" * 20, "<script>alert(1)</script>",
    None, 12345678901234567890, ["abcdefghijklmnopqrstu"],
])
def test_an_invalid_session_id_is_refused_clearly(client, session):
    with client.websocket_connect("/ws/chat") as socket:
        socket.send_json({"type": "hello", "session": session})
        frame = socket.receive_json()
        assert frame["type"] == "error" and frame["code"] == "invalid_session"
        assert "16 to 64 characters" in frame["message"]
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    assert closed.value.code == web_channel.CLOSE_INVALID_SESSION


def test_messages_before_hello_are_refused_without_closing(client):
    with client.websocket_connect("/ws/chat") as socket:
        socket.send_json({"type": "message", "text": "bonjour"})
        assert socket.receive_json()["code"] == "hello_first"
        socket.send_json({"type": "ping"})
        assert socket.receive_json() == {"type": "pong"}
        hello(socket, new_session())


def test_a_message_gets_typing_then_the_reply_and_both_are_recorded(client, engine):
    session = new_session()
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, session)
        frames = turn(socket, "bonjour, les horaires svp")
    assert frames[0] == {"type": "typing"}
    reply = frames[-1]
    assert reply["type"] == "reply" and reply["text"] == "Bonjour ! Pour quel service ?"
    assert reply["buttons"][0] == {"title": "Cardiologie", "payload": CARDIO}
    assert reply["language"] == "fr" and reply["pushed"] is False
    assert engine.received[0]["metadata"] == {"channel": "web", "language": "fr", "reply_style": "full"}
    rows = in_app(client, transcript, session)
    assert [(m.direction, m.text) for m in rows] == [("in", "bonjour, les horaires svp"),
                                                      ("out", "Bonjour ! Pour quel service ?")]


def test_the_history_is_restored_on_reload_with_button_titles_not_payloads(client):
    session = new_session()
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, session)
        turn(socket, "bonjour, les horaires svp")
        turn(socket, CARDIO)
    with client.websocket_connect("/ws/chat") as reloaded:
        frame = hello(reloaded, session)
    messages = frame["messages"]
    assert frame["conversation_id"] and frame["language"] in ("fr", "en")
    assert [m["direction"] for m in messages] == ["in", "out", "in", "out"]
    assert messages[1]["buttons"][0]["title"] == "Cardiologie"
    assert messages[2]["text"] == "Cardiologie"  # the patient clicked a button: its title, as they saw it
    assert "04 72 18 32 10" in messages[3]["text"]
    assert all(m["created_at"] and m["id"] for m in messages)
    # The same history over HTTP (the widget's fallback).
    body = client.get(f"/api/conversations/web/{session}/history").json()
    assert body["messages"] == messages


def test_the_triage_call_to_action_reaches_the_widget(client):
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, new_session())
        reply = turn(socket, "j'ai une douleur dans la poitrine")[-1]
    assert reply["custom"]["triage"]["level"] == "emergency_call"
    assert reply["custom"]["call"] == {"number": "15", "label": "Appeler le 15"}


def test_a_hello_again_resends_the_history(client):
    session = new_session()
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, session)
        turn(socket, "bonjour")
        assert len(hello(socket, session)["messages"]) == 2
        socket.send_json({"type": "hello", "session": new_session()})  # one socket, one session
        assert socket.receive_json()["code"] == "invalid_session"


# --- Several tabs and pushed messages ------------------------------------------------------------


def test_every_tab_of_a_session_sees_the_turn(client):
    session = new_session()
    with client.websocket_connect("/ws/chat") as first, client.websocket_connect("/ws/chat") as second:
        hello(first, session)
        hello(second, session)
        turn(first, "bonjour, les horaires svp")
        assert second.receive_json() == {"type": "echo", "text": "bonjour, les horaires svp"}
        assert second.receive_json() == {"type": "typing"}
        assert second.receive_json()["text"] == "Bonjour ! Pour quel service ?"
        turn(second, CARDIO)
        assert first.receive_json() == {"type": "echo", "text": "Cardiologie"}  # the title, not the payload


def test_a_pushed_message_reaches_every_open_tab_of_that_session_only(client):
    session, other = new_session(), new_session()
    with (client.websocket_connect("/ws/chat") as first, client.websocket_connect("/ws/chat") as second,
          client.websocket_connect("/ws/chat") as stranger):
        hello(first, session)
        hello(second, session)
        hello(stranger, other)
        turn(first, "bonjour")
        for _ in range(3):
            second.receive_json()  # echo, typing, reply of the first tab's turn
        conversation_id = hello(first, session)["conversation_id"]
        # The engine's proactive path: trigger_intent → gateway → /internal/rasa/outbound → delivery.
        response = client.post(
            "/internal/rasa/outbound",
            headers={"Authorization": f"Bearer {_gateway_token()}"},
            json={"recipient_id": conversation_id, "text": "Rappel : rendez-vous demain à 9 h en cardiologie.",
                  "buttons": [{"title": "Confirmer", "payload": "/affirm"}]},
        )
        assert response.status_code == 202
        for tab in (first, second):
            pushed = tab.receive_json()
            assert pushed["type"] == "reply" and pushed["pushed"] is True
            assert pushed["text"].startswith("Rappel") and pushed["buttons"][0]["title"] == "Confirmer"
        stranger.send_json({"type": "ping"})
        assert stranger.receive_json() == {"type": "pong"}  # nothing was pushed to another session


def test_a_push_with_no_open_socket_waits_in_the_history(client):
    session = new_session()
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, session)
        turn(socket, "bonjour")
        conversation_id = hello(socket, session)["conversation_id"]
    assert web_channel.hub.count(session) == 0
    response = client.post("/internal/rasa/outbound", headers={"Authorization": f"Bearer {_gateway_token()}"},
                           json={"recipient_id": conversation_id, "text": "Une infirmière vous a répondu."})
    assert response.status_code == 202
    history = client.get(f"/api/conversations/web/{session}/history").json()
    assert history["messages"][-1]["text"] == "Une infirmière vous a répondu."


def test_a_closed_tab_leaves_the_hub(client):
    session = new_session()
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, session)
        assert web_channel.hub.count(session) == 1
    for _ in range(50):  # the server notices the close on its own loop
        if web_channel.hub.count(session) == 0:
            break
        time.sleep(0.02)
    assert web_channel.hub.count(session) == 0


# --- Bad input -----------------------------------------------------------------------------------


def test_bad_frames_get_an_error_and_the_socket_keeps_working(client, engine):
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, new_session())
        socket.send_text("{not json")
        assert socket.receive_json()["code"] == "invalid_json"
        socket.send_text(json.dumps(["a", "list"]))
        assert socket.receive_json()["code"] == "invalid_json"
        socket.send_bytes(b"\x00\x01")
        assert socket.receive_json()["code"] == "invalid_json"
        socket.send_json({"type": "message", "text": 42})
        assert socket.receive_json()["code"] == "invalid_json"
        socket.send_json({"type": "dance"})
        assert socket.receive_json()["code"] == "unknown_type"
        socket.send_json({"type": "message", "text": "x" * 20_001})
        assert socket.receive_json()["code"] == "too_long"
        socket.send_text("x" * (web_channel.MAX_FRAME + 1))
        assert socket.receive_json()["code"] == "too_long"
        assert not engine.received
        assert turn(socket, "bonjour")[-1]["type"] == "reply"


def test_long_empty_and_odd_messages_get_the_message_paths_answers(client, engine):
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, new_session())
        assert "15" in turn(socket, "   ")[-1]["text"]  # empty: asks for text, gives the emergency number
        frames = turn(socket, "j'ai mal au dos " * 400, replies=2)
        assert "très long" in frames[1]["text"] and frames[2]["text"].startswith("Je peux")
        assert "<script>" in turn(socket, "<script>alert(1)</script>")[-1]["text"]  # text stays text
        assert turn(socket, "😷🤒")[-1]["type"] == "reply"


def test_when_the_engine_is_down_the_patient_gets_try_again_and_15(client, engine):
    engine.down = True
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, new_session())
        reply = turn(socket, "horaires de la radio")[-1]
    assert "15" in reply["text"] and reply["type"] == "reply"


def test_an_unexpected_failure_is_reported_and_the_socket_survives(client, monkeypatch):
    calls = []

    async def broken(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("boom")
        from bot.conversation.message_path import handle_incoming

        return await handle_incoming(*args, **kwargs)

    monkeypatch.setattr(web_channel, "handle_incoming", broken)
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, new_session())
        error = turn(socket, "bonjour")[-1]
        assert error["type"] == "error" and error["code"] == "server_error" and "15" in error["message"]
        assert turn(socket, "bonjour")[-1]["type"] == "reply"


def test_a_flood_of_messages_is_slowed_down(client, engine, monkeypatch):
    monkeypatch.setattr(web_channel, "RATE_LIMIT", (3, 60.0))
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, new_session())
        for _ in range(3):
            assert turn(socket, "bonjour")[-1]["type"] == "reply"
        assert turn(socket, "bonjour")[-1]["code"] == "slow_down"
    assert len(engine.received) == 3


def test_a_socket_that_never_says_hello_is_closed(client, monkeypatch):
    monkeypatch.setattr(web_channel, "HELLO_TIMEOUT", 0.2)
    with client.websocket_connect("/ws/chat") as socket, pytest.raises(WebSocketDisconnect) as closed:
        socket.receive_json()
    assert closed.value.code == web_channel.CLOSE_NO_HELLO


# --- HTTP: history, fallback, pages --------------------------------------------------------------


def test_the_history_endpoint_validates_the_session(client):
    response = client.get("/api/conversations/web/not-valid/history")
    assert response.status_code == 422
    assert response.json() == {"detail": "invalid request", "errors": [
        {"field": "session", "problem": web_channel.SESSION_PROBLEM}]}
    session = new_session()
    assert client.get(f"/api/conversations/web/{session}/history").json() == {
        "session": session, "conversation_id": None, "language": None, "messages": []}


def test_the_http_fallback_and_the_socket_share_one_conversation(client):
    session = new_session()
    body = client.post("/api/chat", json={"sender": session, "text": "bonjour, les horaires svp", "channel": "web"}).json()
    assert body["replies"][0]["buttons"][0]["title"] == "Cardiologie"
    with client.websocket_connect("/ws/chat") as socket:
        frame = hello(socket, session)
        assert frame["conversation_id"] == body["conversation_id"]
        assert [m["direction"] for m in frame["messages"]] == ["in", "out"]


def test_the_history_of_other_channels_is_not_readable_here(client):
    created = client.post("/api/chat", json={"sender": "+33612345678", "text": "bonjour", "channel": "sms"},
                          headers=staff_headers())
    assert created.status_code == 200
    assert client.get("/api/conversations/sms/+33612345678/history").status_code == 404
    assert client.get("/api/conversations/web/+33612345678/history").status_code == 422


def test_the_demo_page_embeds_the_widget(client):
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<script src="widget.js" data-lang="fr" defer></script>' in page
    assert '<html lang="fr">' in page and "{{" not in page
    english = client.get("/?lang=en").text
    assert '<html lang="en">' in english and 'data-lang="en"' in english and "{{" not in english
    assert '<html lang="fr">' in client.get("/?lang=xx").text


def test_the_widget_files_are_served(client):
    script = client.get("/widget.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "ws/chat" in script.text and "innerHTML" in script.text
    assert script.headers["etag"] and "max-age" in script.headers["cache-control"]
    style = client.get("/widget.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert client.head("/widget.js").status_code == 200


def test_the_widget_never_renders_message_text_as_html():
    """The one innerHTML in the widget is for its own static icons."""
    source = web_channel.__file__.rsplit("/", 1)[0] + "/widget.js"
    with open(source, encoding="utf-8") as handle:
        lines = [line for line in handle if "innerHTML" in line]
    assert len(lines) == 1 and "static icons" in lines[0]


def test_the_history_is_documented_and_the_socket_is_not_in_openapi(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/conversations/web/{session}/history" in paths
    assert "/" not in paths and "/widget.js" not in paths


def _gateway_token() -> str:
    from bot.core.config import settings

    return settings().gateway_token


def test_a_quick_reply_keeps_the_conversations_language(client):
    with client.websocket_connect("/ws/chat") as socket:
        hello(socket, new_session())
        assert turn(socket, "bonjour, les horaires svp")[-1]["language"] == "fr"
        assert turn(socket, CARDIO)[-1]["language"] == "fr"
