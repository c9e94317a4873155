"""The whole stack, started the way `make run` starts it, spoken to over real HTTP.

Needs the trained model (make train) and takes about a minute: the engine's start-up dominates.
"""

from __future__ import annotations

import asyncio
import os
import socket

import httpx
import pytest

from bot.core.config import settings
from bot.ops.supervisor import MODEL, Stack
from tests.staff import staff_headers
from tests.web.sessions import named_session

pytestmark = [pytest.mark.integration]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
async def stack(seeded_database):
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` first")
    for name in ("RASA_PORT", "ACTION_PORT", "PARCOURS_PORT"):
        os.environ[name] = str(_free_port())
    for name in ("RASA_URL", "ACTION_SERVER_URL", "PARCOURS_URL"):
        os.environ.pop(name, None)
    settings.cache_clear()
    running = Stack()
    await asyncio.to_thread(running.start)
    yield running
    await asyncio.to_thread(running.stop)


@pytest.fixture
async def api(stack):
    async with httpx.AsyncClient(base_url=settings().backoffice_url, timeout=30) as client:
        yield client


async def say(api: httpx.AsyncClient, sender: str, text: str) -> dict:
    """`sender` names a browser: the same name, the same session the back office issued."""
    response = await api.post("/api/chat", json={"sender": named_session(sender), "text": text, "channel": "web"})
    assert response.status_code == 200, response.text
    return response.json()


def texts(body: dict) -> str:
    return " ".join(reply["text"] for reply in body["replies"])


async def test_everything_is_healthy(api):
    assert (await api.get("/health")).json() == {
        "status": "ok", "database": "ok", "engine": "ok", "action_server": "ok", "sms_budget": "ok"}


async def test_opening_hours_come_from_the_database_in_french(api):
    body = await say(api, "it-fr", "c quoi les horaires de la cardio stp")
    assert body["language"] == "fr"
    assert "Cardiologie" in texts(body) and "lundi" in texts(body).lower()


async def test_the_same_question_in_english_is_answered_in_english(api):
    body = await say(api, "it-en", "what are the opening hours of cardiology?")
    assert body["language"] == "en"
    assert "Cardiology" in texts(body) and "Monday" in texts(body)


async def test_a_greeting_and_a_language_switch(api):
    assert "Bonjour" in texts(await say(api, "it-switch", "bonjour"))
    body = await say(api, "it-switch", "can we speak english please?")
    assert body["language"] == "en" and "English" in texts(body)
    assert body["replies"]


async def test_an_ambiguous_service_gets_a_short_choice_and_a_button_answers_it(api):
    body = await say(api, "it-ambiguous", "horaires des urgences")
    buttons = [b for reply in body["replies"] for b in reply["buttons"]]
    assert len(buttons) >= 2
    body = await say(api, "it-ambiguous", buttons[-1]["payload"])
    assert "24" in texts(body)


async def test_a_brief_action_server_outage_gets_try_again_then_recovers(api, stack):
    actions = next(p for p in stack.processes if p.name == "action server")
    await asyncio.to_thread(actions.stop)
    body = await say(api, "it-outage", "quel est le numero de la radiologie")
    assert "Réessayez" in texts(body) and "15" in texts(body)
    actions.start()
    for _ in range(100):
        if actions.healthy():
            break
        await asyncio.sleep(0.2)
    body = await say(api, "it-outage", "quel est le numero de la radiologie")
    assert "Radiologie" in texts(body)


async def test_the_engine_can_speak_first_through_the_gateway(api):
    body = await say(api, "it-proactive", "bonjour")
    conversation_id = body["conversation_id"]
    from bot.conversation import engine

    await engine.trigger_intent(conversation_id, "greet")
    await engine.close()
    from bot.conversation.transcript import history
    from bot.core import db

    for _ in range(50):
        async with db.session_scope() as session:
            messages = await history(session, conversation_id)
        if len([m for m in messages if m.direction == "out"]) >= 2:
            break
        await asyncio.sleep(0.1)
    assert [m.direction for m in messages][-1] == "out"
    assert "Bonjour" in messages[-1].text


# ---------------------------------------------------------------- orientation through the engine


def outcome_of(body: dict) -> dict | None:
    return next((r["custom"]["triage"] for r in body["replies"] if "triage" in (r.get("custom") or {})), None)


def button_titled(body: dict, *words: str) -> dict:
    buttons = [b for reply in body["replies"] for b in reply["buttons"]]
    for button in buttons:
        if any(word in button["title"].lower() for word in words):
            return button
    raise AssertionError(f"no button among {[b['title'] for b in buttons]} says any of {words}")


async def test_a_complaint_is_oriented_through_follow_up_questions_answered_in_free_text(api):
    body = await say(api, "it-triage-fr", "jai mal au ventre depuis hier")
    asked = [texts(body)]
    assert "âge" in asked[0] and outcome_of(body) is None
    for answer in ("35 ans", "non", "5", "non", "non"):
        body = await say(api, "it-triage-fr", answer)
        if outcome_of(body):
            break
        asked.append(texts(body))
    outcome = outcome_of(body)
    assert outcome is not None, f"no orientation after the questions {asked}"
    assert len(asked) <= 4, asked  # only the questions that change the decision
    assert outcome["level"] == "same_day"
    assert "Parce que vous décrivez" in texts(body) and "ventre" in texts(body)
    assert "15" in texts(body)  # the safety net
    # The form is over: the next message is an ordinary one again.
    assert "plaisir" in texts(await say(api, "it-triage-fr", "merci"))


async def test_a_complaint_is_oriented_with_quick_reply_buttons_in_english(api):
    body = await say(api, "it-triage-en", "I have an itchy rash on my arm since 3 days")
    assert body["language"] == "en" and outcome_of(body) is None
    body = await say(api, "it-triage-en", button_titled(body, "16 to 39")["payload"])
    for _ in range(4):
        if outcome_of(body):
            break
        body = await say(api, "it-triage-en", button_titled(body, "no", "same", "mild", "3 to 7")["payload"])
    outcome = outcome_of(body)
    assert outcome is not None, texts(body)
    assert outcome["level"] in {"appointment", "teleconsultation", "pharmacist", "self_care"}
    assert outcome["service"] == "dermatology"
    assert "Because you describe" in texts(body)


async def test_a_red_flag_interrupts_the_questions_and_a_mistake_resumes_them(api):
    body = await say(api, "it-triage-flag", "jai mal au ventre depuis hier")
    question = texts(body)
    body = await say(api, "it-triage-flag", "et la jai une douleur dans la poitrine qui serre et je transpire")
    assert outcome_of(body)["level"] == "emergency_call"
    assert "15" in texts(body)
    body = await say(api, "it-triage-flag", "non pardon c'etait une erreur")
    assert question in texts(body)  # the pending question, asked again
    body = await say(api, "it-triage-flag", "35 ans")
    assert outcome_of(body) is None and texts(body)  # the questions go on


async def test_a_negated_red_flag_during_the_questions_is_an_answer_not_an_emergency(api):
    await say(api, "it-triage-negated", "j'ai de la fievre depuis 2 jours")
    body = await say(api, "it-triage-negated", "j'ai 40 ans, je n'ai pas de douleur a la poitrine")
    assert outcome_of(body) is None or outcome_of(body)["level"] != "emergency_call"
    assert "SAMU" not in texts(body)
    assert texts(body)


async def test_linking_a_phone_goes_from_the_engine_to_the_back_office(api):
    body = await say(api, "it-link", "je voudrais relier mon numero de portable")
    assert "numéro de portable" in texts(body)
    body = await say(api, "it-link", "06 12 34 56 78")
    assert "code" in texts(body) and "••78" in texts(body)
    body = await say(api, "it-link", "quels sont les horaires de la cardio")
    assert "Cardiologie" in texts(body)  # anything else cancels and goes to the engine


async def test_sms_gets_the_short_variations_of_long_answers(api):
    async def greet(sender: str, channel: str) -> str:
        response = await api.post("/api/chat", json={"sender": sender, "text": "bonjour", "channel": channel},
                                  headers=staff_headers())
        assert response.status_code == 200, response.text
        return texts(response.json())

    full, short = await greet(named_session("it-style-web"), "web"), await greet("+33611111111", "sms")
    assert short.startswith("Bonjour") and len(short) < 110 < len(full)


async def test_dark_thoughts_get_3114_then_the_direct_question_and_a_yes_gets_15(api):
    body = await say(api, "it-dark", "je suis un poids pour tout le monde, à quoi bon continuer")
    assert "3114" in texts(body)
    assert "mettre fin à vos jours" in texts(body)  # the screener's direct question
    assert "réessayez" not in texts(body).lower()
    body = await say(api, "it-dark", "oui")
    assert outcome_of(body)["level"] == "emergency_call"
    assert "15" in texts(body) and "3114" in texts(body)


async def test_a_sign_asked_about_as_a_question_gets_a_confirming_question(api):
    body = await say(api, "it-confirm", "que faire si mon père ne respire plus ?")
    assert ("maintenant" in texts(body) or "en ce moment" in texts(body)) and outcome_of(body) is None
    assert any(b["title"].startswith("Oui") for r in body["replies"] for b in r["buttons"])
    body = await say(api, "it-confirm", "oui")
    assert outcome_of(body)["level"] == "emergency_call"
    assert "massage cardiaque" in texts(body)


async def test_a_practical_question_during_the_questions_is_answered_not_a_dead_end(api):
    await say(api, "it-stuck", "je ne me sens pas bien")
    body = await say(api, "it-stuck", "c quoi les horaires de la cardio")
    assert "réessayez" not in texts(body).lower()
    assert "Cardiologie" in texts(body)  # the practical answer the patient asked for
    assert outcome_of(body) is not None and "15" in texts(body)  # and the orientation so far, safety net included
    assert "plaisir" in texts(await say(api, "it-stuck", "merci"))  # the questions are over


async def test_two_unreadable_answers_end_the_questions_with_the_orientation_so_far(api):
    await say(api, "it-stuck2", "je ne me sens pas bien")
    body = await say(api, "it-stuck2", "bof")
    assert texts(body) and outcome_of(body) is None  # asked again, differently
    body = await say(api, "it-stuck2", "je sais pas trop")
    assert outcome_of(body) is not None and "15" in texts(body)
    assert "réessayez" not in texts(body).lower()
