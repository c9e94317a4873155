"""Telegram end to end: webhook → message path → fake engine → outbox → fake Bot API."""

from __future__ import annotations

import asyncio

import pytest

from bot.conversation.transcript import Reply
from bot.messaging import delivery
from connectors.telegram import channel as telegram
from tests.channels.builders import (
    UNSUPPORTED,
    callback_update,
    conversation_of,
    count_messages,
    failing_write,
    message_update,
    new_chat,
    outbox_rows,
    post_update,
    run_worker,
    text_update,
)


async def test_a_message_gets_the_engines_reply_with_an_inline_keyboard(client, fake_engine, fake_telegram):
    chat = new_chat()
    response = await post_update(client, text_update(chat, "horaires de la cardio svp"))
    assert response.status_code == 200
    assert fake_engine.received[0]["text"] == "horaires de la cardio svp"
    assert fake_engine.received[0]["metadata"]["channel"] == "telegram"
    [sent] = fake_telegram.sent(chat)
    assert sent["text"] == "echo: horaires de la cardio svp"
    assert "parse_mode" not in sent  # plain text: nothing to escape, nothing Telegram can refuse to parse
    rows = sent["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in rows] == ["Cardiologie", "Rythmologie"]
    data = [row[0]["callback_data"] for row in rows]
    assert data[0] == 'p:/inform_service{"service":"cardio"}'
    assert data[1].startswith("t:")  # the long payload is kept server-side
    assert all(len(d.encode()) <= 64 for d in data)
    [row] = await outbox_rows((await conversation_of("telegram", str(chat))).id)
    assert (row.kind, row.status, row.attempts, row.provider_id) == ("reply", "sent", 1, str(row.provider_id))


async def test_a_button_press_is_answered_and_sends_its_payload(client, fake_engine, fake_telegram):
    chat = new_chat()
    await post_update(client, text_update(chat, "bonjour"))
    long_data = fake_telegram.sent(chat)[0]["reply_markup"]["inline_keyboard"][1][0]["callback_data"]

    response = await post_update(client, callback_update(chat, long_data))
    assert response.status_code == 200
    assert len(fake_telegram.called("answerCallbackQuery")) == 1
    assert fake_engine.received[-1]["text"].startswith(
        '/inform_service{"service": "cardiologie_interventionnelle_rythmologie"')
    assert len(fake_telegram.sent(chat)) == 2

    await post_update(client, callback_update(chat, 'p:/inform_service{"service":"cardio"}'))
    assert fake_engine.received[-1]["text"].startswith('/inform_service{"service": "cardio"')


async def test_a_token_from_another_chat_or_an_unknown_one_is_refused_politely(client, fake_engine, fake_telegram):
    owner, other = new_chat(), new_chat()
    await post_update(client, text_update(owner, "bonjour"))
    token = fake_telegram.sent(owner)[0]["reply_markup"]["inline_keyboard"][1][0]["callback_data"]
    calls = len(fake_engine.received)
    for data in (token, "t:unknown", "garbage"):
        await post_update(client, callback_update(other, data))
    assert len(fake_engine.received) == calls
    assert [m["text"] for m in fake_telegram.sent(other)] == ["Ce bouton n'est plus valable. Écrivez-moi votre réponse."] * 3


async def test_a_redelivered_update_gets_one_answer(client, fake_engine, fake_telegram):
    chat = new_chat()
    update = text_update(chat, "bonjour")
    responses = [await post_update(client, update) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert [r.json()["outcome"] for r in responses] == ["message", "duplicate", "duplicate"]
    assert len(fake_engine.received) == 1
    assert len(fake_telegram.sent(chat)) == 1


async def test_concurrent_redeliveries_get_one_answer(client, fake_engine, fake_telegram):
    chat = new_chat()
    update = text_update(chat, "bonjour")
    responses = await asyncio.gather(*(post_update(client, update) for _ in range(4)))
    assert all(r.status_code == 200 for r in responses)
    assert len(fake_telegram.sent(chat)) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"])
async def test_a_wrong_or_missing_secret_is_refused_and_nothing_is_processed(client, fake_engine, fake_telegram, secret):
    chat = new_chat()
    response = await post_update(client, text_update(chat, "bonjour"), secret=secret)
    assert response.status_code == 403
    assert not fake_engine.received
    assert not fake_telegram.calls
    assert await conversation_of("telegram", str(chat)) is None


async def test_without_configuration_the_webhook_says_so(client, fake_engine, monkeypatch):
    from bot.core import config as settings

    monkeypatch.delenv("TELEGRAM_BOT_TOKEN")
    settings.reset_settings()
    response = await post_update(client, text_update(new_chat(), "bonjour"))
    assert response.status_code == 503
    assert "TELEGRAM_BOT_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED))
async def test_content_other_than_text_gets_a_polite_text_only_answer(client, fake_engine, fake_telegram, kind):
    chat = new_chat()
    response = await post_update(client, message_update(chat, **UNSUPPORTED[kind]))
    assert response.status_code == 200
    [sent] = fake_telegram.sent(chat)
    assert sent["text"].startswith("Je ne peux lire que des messages écrits.")
    assert not fake_engine.received
    assert await count_messages("telegram", str(chat)) == 2  # recorded: what came in, what we said


async def test_the_text_only_answer_follows_the_patients_language(client, fake_engine, fake_telegram):
    chat = new_chat()
    await post_update(client, message_update(chat, language_code="en-GB", **UNSUPPORTED["voice"]))
    assert fake_telegram.sent(chat)[0]["text"].startswith("I can only read text messages.")


async def test_an_edited_message_is_not_processed_again(client, fake_engine, fake_telegram):
    chat = new_chat()
    await post_update(client, message_update(chat, field="edited_message", text="en fait j'ai mal au bras"))
    assert not fake_engine.received
    assert "modifiés" in fake_telegram.sent(chat)[0]["text"]


async def test_updates_without_a_chat_to_answer_are_acknowledged(client, fake_engine, fake_telegram):
    chat = new_chat()
    group = message_update(chat, text="bonjour")
    group["message"]["chat"]["type"] = "group"
    member = {"update_id": 5, "my_chat_member": {"chat": {"id": chat, "type": "private"}, "from": {
        "id": chat, "is_bot": False, "first_name": "P"}, "date": 1, "old_chat_member": {
        "status": "member", "user": {"id": 42, "is_bot": True, "first_name": "B"}}, "new_chat_member": {
        "status": "kicked", "until_date": 0, "user": {"id": 42, "is_bot": True, "first_name": "B"}}}}
    for update in (group, member):
        response = await post_update(client, update)
        assert response.status_code == 200
        assert response.json()["outcome"] == "ignored"
    assert not fake_engine.received and not fake_telegram.calls


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (b'{"message": {}}', 400), (b'{"update_id": "12"}', 400),
     (b'{"update_id": 12, "message": "text"}', 400), (b"\xff\xfe", 400),
     (b'{"update_id": 1, "x": "' + b"a" * 300_000 + b'"}', 413)],
)
async def test_malformed_bodies_get_the_4xx_telegram_expects(client, fake_engine, fake_telegram, body, status):
    response = await post_update(client, body)
    assert response.status_code == status
    assert not fake_engine.received and not fake_telegram.calls


async def test_start_with_a_deep_link_payload_opens_in_that_language(client, fake_engine, fake_telegram):
    chat = new_chat()
    await post_update(client, text_update(chat, "/start en", language_code="fr"))
    [welcome] = fake_telegram.sent(chat)
    assert welcome["text"].startswith("Hello, I'm the hospital's assistant.")
    assert (await conversation_of("telegram", str(chat))).language == "en"
    assert not fake_engine.received

    other = new_chat()
    await post_update(client, text_update(other, "/start@parcours_test_bot affiche-urgences", language_code=None))
    assert fake_telegram.sent(other)[0]["text"].startswith("Bonjour, je suis l'assistant")


async def test_language_offers_buttons_and_a_press_switches_the_conversation(client, fake_engine, fake_telegram):
    chat = new_chat()
    await post_update(client, text_update(chat, "/language"))
    [offer] = fake_telegram.sent(chat)
    buttons = [row[0] for row in offer["reply_markup"]["inline_keyboard"]]
    assert [b["text"] for b in buttons] == ["Français", "English"]

    await post_update(client, callback_update(chat, buttons[1]["callback_data"]))
    assert fake_telegram.sent(chat)[-1]["text"] == "Noted, I'll answer in English."
    await post_update(client, text_update(chat, "ok"))
    assert fake_engine.received[-1]["metadata"]["language"] == "en"


async def test_a_long_reply_is_split_under_telegrams_limit_with_buttons_on_the_last_part(
        client, fake_engine, fake_telegram):
    chat = new_chat()
    paragraph = "Le service de cardiologie vous accueille au bâtiment B. " * 30
    fake_engine.replies = [{"text": "\n\n".join([paragraph] * 6),
                            "buttons": [{"title": "Oui", "payload": "/affirm"}]}]
    await post_update(client, text_update(chat, "dis m'en plus"))
    sent = fake_telegram.sent(chat)
    assert len(sent) >= 3
    assert all(len(m["text"].encode("utf-16-le")) // 2 <= 4096 for m in sent)
    assert [bool(m.get("reply_markup")) for m in sent] == [False] * (len(sent) - 1) + [True]
    assert "".join(m["text"] for m in sent).replace("\n", "").replace(" ", "") == \
        "".join([paragraph] * 6).replace(" ", "")


async def test_markdown_characters_and_emergency_calls_reach_the_patient_unchanged(client, fake_engine, fake_telegram):
    chat = new_chat()
    text = "Appelez le 15 *maintenant* [SAMU] (urgence) _vite_ ~ ` > # + - = | { } . !"
    fake_engine.replies = [{"text": text},
                           {"custom": {"triage": {"level": "emergency_call"}, "call": {"number": "112",
                                                                                        "label": "Appeler le 112"}}}]
    await post_update(client, text_update(chat, "douleur thoracique"))
    sent = fake_telegram.sent(chat)
    assert sent[0]["text"] == text
    assert sent[1]["text"] == "📞 Appeler le 112"


async def test_proactive_message_is_delivered_once_whatever_the_retries(client, fake_engine, fake_telegram):
    chat = new_chat()
    await post_update(client, text_update(chat, "bonjour"))
    conversation = await conversation_of("telegram", str(chat))
    before = len(fake_telegram.sent(chat))
    reminder = Reply(text="Rappel : rendez-vous demain à 9 h en cardiologie.")
    for _ in range(3):
        entries = await delivery.send_proactive(conversation.id, reminder, idempotency_key="rdv-42-reminder-j1")
        assert [e.status for e in entries] == ["sent"]
    await run_worker(2)
    assert [m["text"] for m in fake_telegram.sent(chat)[before:]] == [reminder.text]
    assert await count_messages("telegram", str(chat)) == 3  # in, reply, one reminder in the transcript


async def test_when_telegram_is_down_the_message_is_retried_then_delivered(client, fake_engine, fake_telegram):
    chat = new_chat()
    await post_update(client, text_update(chat, "bonjour"))
    conversation = await conversation_of("telegram", str(chat))
    fake_telegram.failures = [502, 500]
    [entry] = await delivery.send_proactive(conversation.id, Reply(text="Rappel"), idempotency_key=f"down-{chat}")
    assert (entry.status, entry.attempts, entry.last_error) == ("pending", 1, "telegram unreachable (NetworkError)")
    await run_worker()
    [row] = [r for r in await outbox_rows(conversation.id) if r.kind == "proactive"]
    assert (row.status, row.attempts) == ("pending", 2)
    await run_worker()
    [row] = [r for r in await outbox_rows(conversation.id) if r.kind == "proactive"]
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert [m["text"] for m in fake_telegram.sent(chat)].count("Rappel") == 1


async def test_a_blocked_bot_fails_at_once_and_flood_control_waits(client, fake_engine, fake_telegram):
    chat = new_chat()
    await post_update(client, text_update(chat, "bonjour"))
    conversation = await conversation_of("telegram", str(chat))
    fake_telegram.failures = [403]
    [entry] = await delivery.send_proactive(conversation.id, Reply(text="a"), idempotency_key=f"blocked-{chat}")
    assert (entry.status, entry.attempts, entry.last_error) == ("failed", 1, "telegram 403 forbidden")

    fake_telegram.failures = [429]
    [entry] = await delivery.send_proactive(conversation.id, Reply(text="b"), idempotency_key=f"flood-{chat}")
    assert entry.status == "pending"
    assert (entry.next_attempt_at - entry.created_at).total_seconds() >= 29  # Telegram's retry_after
    assert await run_worker() == 0  # not due yet


async def test_polling_mode_processes_updates_like_the_webhook(fake_engine, fake_telegram):
    chat = new_chat()
    update = text_update(chat, "bonjour")
    fake_telegram.updates = [update, update]  # Telegram may hand the same update twice
    stop = asyncio.Event()
    poller = asyncio.create_task(telegram.poll(stop, timeout=0))
    for _ in range(100):
        if fake_telegram.sent(chat) and len(fake_telegram.called("getUpdates")) >= 2:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(poller, 5)
    assert fake_telegram.called("deleteWebhook")
    assert [m["text"] for m in fake_telegram.sent(chat)] == ["echo: bonjour"]
    offsets = [c.get("offset") for c in fake_telegram.called("getUpdates")]
    assert offsets[0] is None and str(update["update_id"] + 1) in map(str, offsets[1:])


async def test_when_the_database_cannot_record_the_update_telegram_is_asked_to_retry(
        client, fake_engine, fake_telegram, monkeypatch):
    from sqlalchemy.exc import OperationalError

    def unavailable():
        raise OperationalError("INSERT", {}, Exception("database is away"))

    monkeypatch.setattr("bot.conversation.message_path.session_scope", unavailable)
    response = await post_update(client, text_update(new_chat(), "bonjour"))
    assert response.status_code == 503
    assert not fake_engine.received and not fake_telegram.calls


async def test_an_update_whose_message_failed_to_be_stored_is_processed_when_telegram_redelivers_it(
        client, fake_engine, fake_telegram, monkeypatch):
    """The receipt commits with the message: a write that fails after the receipt leaves neither,
    so the redelivery is answered instead of being skipped as a duplicate."""
    from bot.conversation import message_path

    chat = new_chat()
    update = text_update(chat, "bonjour")
    with monkeypatch.context() as patched:
        patched.setattr(message_path, "record_incoming", failing_write)
        assert (await post_update(client, update)).status_code == 503
    response = await post_update(client, update)
    assert response.status_code == 200
    assert [m["text"] for m in fake_telegram.sent(chat)] == ["echo: bonjour"]
    assert await count_messages("telegram", str(chat)) == 2  # the message and its answer, once


async def test_when_the_engine_is_down_the_patient_is_told_on_telegram(client, fake_engine, fake_telegram):
    chat = new_chat()
    fake_engine.down = True
    await post_update(client, text_update(chat, "bonjour"))
    assert fake_telegram.sent(chat)[0]["text"].startswith("Désolé, je n'arrive pas à vous répondre")
