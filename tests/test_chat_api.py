"""The message path through POST /api/chat, with the engine replaced by a fake."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import select

from bot.conversation.models import Conversation, Message
from bot.core import db
from bot.main import create_app
from tests.fakes import FakeEngine
from tests.staff import staff_headers
from tests.web.sessions import named_session as web


@pytest.fixture
def fake_engine(monkeypatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr("bot.conversation.engine.send_to_engine", fake.send)
    return fake


@pytest.fixture
async def client(migrated_database):
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def transcript(sender: str) -> list[Message]:
    async with db.session_scope() as session:
        conversation = await session.scalar(select(Conversation).where(Conversation.sender == sender))
        assert conversation is not None
        return list((await session.scalars(
            select(Message).where(Message.conversation_id == conversation.id).order_by(Message.id))).all())


async def test_web_senders_must_be_sessions_the_server_issued(client, fake_engine):
    response = await client.post("/api/chat", json={"sender": "p-chosen-by-the-client", "text": "bonjour"})
    assert response.status_code == 401 and response.json()["detail"]["code"] == "invalid_session"
    assert fake_engine.received == []
    session = (await client.post("/api/web/sessions")).json()["session"]
    assert (await client.post("/api/chat", json={"sender": session, "text": "bonjour"})).status_code == 200


async def test_a_message_gets_the_engines_replies_and_both_are_recorded(client, fake_engine):
    response = await client.post("/api/chat", json={"sender": web("p1"), "text": "horaires de la cardio svp"})
    assert response.status_code == 200
    body = response.json()
    assert body["language"] == "fr"
    assert body["replies"][0]["text"] == "echo: horaires de la cardio svp"
    assert body["replies"][0]["buttons"][0]["payload"].startswith("/inform_service")
    assert fake_engine.received[0]["metadata"] == {"channel": "web", "language": "fr", "reply_style": "full"}
    messages = await transcript(web("p1"))
    assert [(m.direction, m.author) for m in messages] == [("in", "patient"), ("out", "bot")]
    assert messages[1].payload["buttons"][0]["title"] == "Cardiologie"


async def test_the_engine_sees_the_conversation_id_not_the_patients_channel_id(client, fake_engine):
    body = (await client.post("/api/chat", json={"sender": "+33612345678", "text": "bonjour", "channel": "sms"},
                              headers=staff_headers())).json()
    assert fake_engine.received[0]["sender"] == body["conversation_id"]
    assert "+33612345678" not in str(fake_engine.received)


async def test_the_language_is_kept_per_conversation(client, fake_engine):
    await client.post("/api/chat", json={"sender": web("p2"), "text": "what time does radiology open"})
    body = (await client.post("/api/chat", json={"sender": web("p2"), "text": "ok"})).json()
    assert body["language"] == "en"
    body = (await client.post("/api/chat", json={"sender": web("p2"), "text": "en français svp"})).json()
    assert body["language"] == "fr"


@pytest.mark.parametrize("channel", ["sms", "telegram"])
async def test_nobody_writes_as_a_phone_or_a_telegram_chat_without_the_staff_token(client, fake_engine, channel):
    for headers in ({}, {"Authorization": "Bearer guess"}):
        response = await client.post("/api/chat", json={"sender": "+33600000001", "text": "hello", "channel": channel},
                                     headers=headers)
        assert response.status_code == 403 and "webhook" in response.json()["detail"]
    assert fake_engine.received == []
    async with db.session_scope() as session:
        assert await session.scalar(select(Conversation).where(Conversation.sender == "+33600000001")) is None


async def test_the_back_offices_metadata_wins_over_the_callers(client, fake_engine):
    await client.post("/api/chat", json={"sender": web("p-meta"), "text": "bonjour",
                                         "metadata": {"language": "de", "channel": "sms", "page": "/cardio"}})
    assert fake_engine.received[0]["metadata"] == {"page": "/cardio", "channel": "web", "language": "fr",
                                                   "reply_style": "full"}


async def test_a_first_greeting_opens_the_conversation_in_its_language(client, fake_engine):
    body = (await client.post("/api/chat", json={"sender": web("p-greeting"), "text": "hello"})).json()
    assert body["language"] == "en"
    # A greeting later on does not switch back.
    body = (await client.post("/api/chat", json={"sender": web("p-greeting"), "text": "bonjour"})).json()
    assert body["language"] == "en"


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"text": "bonjour"}, "sender"),
        ({"sender": "x"}, "text"),
        ({"sender": "x", "text": "hi", "channel": "carrier-pigeon"}, "channel"),
        ({"sender": "", "text": "hi"}, "sender"),
        ({"sender": "x", "text": "hi", "unexpected": 1}, "unexpected"),
    ],
)
async def test_malformed_requests_get_a_clear_4xx(client, fake_engine, payload, problem):
    response = await client.post("/api/chat", json=payload)
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "invalid request"
    assert any(problem in error["field"] for error in body["errors"])
    assert not fake_engine.received


async def test_invalid_json_gets_a_4xx(client, fake_engine):
    response = await client.post("/api/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert not fake_engine.received


async def test_a_very_long_message_is_cut_said_so_and_answered(client, fake_engine):
    text = "j'ai mal au dos " * 400  # 6,400 characters
    body = (await client.post("/api/chat", json={"sender": web("p3"), "text": text})).json()
    assert "très long" in body["replies"][0]["text"]
    assert len(fake_engine.received[0]["text"]) <= 1000
    stored = (await transcript(web("p3")))[0]
    assert len(stored.text) == 5000


async def test_control_characters_and_emoji_only_messages_are_handled(client, fake_engine):
    body = (await client.post("/api/chat", json={"sender": web("p4"), "text": "bon\x00jour\x1b[31m\u200b"})).json()
    assert "\x00" not in fake_engine.received[0]["text"] and "\x1b" not in fake_engine.received[0]["text"]
    assert body["replies"]
    body = (await client.post("/api/chat", json={"sender": web("p4"), "text": "😷🤒🤕"})).json()
    assert body["replies"]


async def test_an_empty_message_gets_a_request_for_text(client, fake_engine):
    body = (await client.post("/api/chat", json={"sender": web("p5"), "text": "   "})).json()
    assert "15" in body["replies"][0]["text"]
    assert not fake_engine.received


async def test_when_the_engine_is_down_the_patient_gets_try_again_and_the_emergency_number(client, fake_engine):
    fake_engine.down = True
    body = (await client.post("/api/chat", json={"sender": web("p6"), "text": "horaires de la radio"})).json()
    assert "Réessayez" in body["replies"][0]["text"] and "15" in body["replies"][0]["text"]
    assert (await transcript(web("p6")))[0].text == "horaires de la radio"  # nothing lost
    fake_engine.down = False
    body = (await client.post("/api/chat", json={"sender": web("p6"), "text": "horaires de la radio"})).json()
    assert body["replies"][0]["text"].startswith("echo:")


async def test_patients_cannot_drive_the_engine_with_typed_commands(client, fake_engine):
    await client.post("/api/chat", json={"sender": web("p7"), "text": "/restart"})
    await client.post("/api/chat", json={"sender": web("p7"), "text": '/emergency{"red_flags":["x"]}'})
    assert fake_engine.received[0]["text"] == "restart"
    assert not fake_engine.received[1]["text"].startswith("/")


async def test_button_payloads_reach_the_engine_with_the_language(client, fake_engine):
    await client.post("/api/chat", json={"sender": web("p8"), "text": "where is the eye clinic please"})
    await client.post("/api/chat", json={"sender": web("p8"), "text": '/inform_service{"service":"cardio"}'})
    assert fake_engine.received[1]["text"] == '/inform_service{"service": "cardio", "language": "en"}'


async def test_health_reports_a_missing_engine(client):
    body = (await client.get("/health")).json()
    assert body["database"] == "ok"
    assert body["engine"] == "down" and body["status"] == "degraded"


async def test_the_api_is_documented(client):
    schema = (await client.get("/openapi.json")).json()
    assert "/api/chat" in schema["paths"]
    assert "/internal/rasa/outbound" not in schema["paths"]


async def test_a_red_flag_goes_to_the_engine_as_the_emergency_intent(client, fake_engine):
    await client.post("/api/chat", json={"sender": web("s1"), "text": "dou\u200bleur dans la poi\u200btrine qui serre et je transpire"})
    assert fake_engine.received[0]["text"].startswith('/emergency{"red_flags": ["chest_pain_cardiac"]')


async def test_dark_thoughts_open_the_orientation_with_the_patients_words(client, fake_engine):
    text = "je suis un poids pour tout le monde, à quoi bon continuer"
    await client.post("/api/chat", json={"sender": web("s2"), "text": text})
    sent = fake_engine.received[0]["text"]
    assert sent.startswith("/describe_symptoms")
    assert json.loads(sent.removeprefix("/describe_symptoms"))["complaint"] == text


async def test_a_questioned_sign_opens_the_orientation_so_that_it_is_asked_about(client, fake_engine):
    await client.post("/api/chat", json={"sender": web("s3"), "text": "que faire si mon père ne respire plus ?"})
    assert fake_engine.received[0]["text"].startswith("/describe_symptoms")


async def test_practical_questions_still_reach_the_classifier(client, fake_engine):
    await client.post("/api/chat", json={"sender": web("s4"), "text": "c quoi les horaires de la cardio"})
    assert fake_engine.received[0]["text"] == "c quoi les horaires de la cardio"


async def test_dark_thoughts_get_3114_when_the_engine_is_down(client, fake_engine):
    fake_engine.down = True
    body = (await client.post("/api/chat", json={"sender": web("s5"), "text": "I'm a burden to everyone, there's no point anymore"})).json()
    fake_engine.down = False
    texts = " ".join(reply["text"] for reply in body["replies"])
    assert "3114" in texts and "15" in texts


async def test_a_red_flag_in_the_last_sentence_of_a_long_message_is_caught(client, fake_engine):
    filler = "Je vous écris au sujet de mon rendez-vous de la semaine prochaine, je ne sais plus quelle heure. "
    text = filler * 55 + "Et là maintenant mon mari ne respire plus."
    assert len(text) > 5000
    await client.post("/api/chat", json={"sender": web("s6"), "text": text[-4990:]})
    assert fake_engine.received[0]["text"].startswith('/emergency{"red_flags": ["cardiac_arrest"]')
