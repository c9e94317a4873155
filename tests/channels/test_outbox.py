"""The outbox: restarts, several workers, order, quiet hours, engine triggers, the status API."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.conversation.transcript import Reply
from bot.core import db
from bot.messaging import channels, delivery, outbox
from bot.messaging.channels import Channel, load_channels
from bot.messaging.models import OutboxMessage
from tests.channels.builders import (
    conversation_of,
    new_chat,
    new_phone,
    outbox_rows,
    post_sms,
    post_update,
    run_worker,
    sms_form,
    text_update,
)
from tests.staff import staff_headers
from tests.web.sessions import web_session

PARIS = "Europe/Paris"


async def telegram_conversation(client) -> tuple[int, str]:
    chat = new_chat()
    await post_update(client, text_update(chat, "bonjour"))
    return chat, (await conversation_of("telegram", str(chat))).id


async def _force(row_id: int, **values) -> None:
    async with db.session_scope() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id).values(**values))


async def test_a_row_left_sending_by_a_dead_worker_is_unknown_and_never_sent_twice(client, fake_engine, fake_telegram):
    chat, conversation_id = await telegram_conversation(client)
    fake_telegram.failures = [500]  # keep the row pending, then pretend a worker claimed it and died mid-call
    [entry] = await delivery.send_proactive(conversation_id, Reply(text="Rappel"), idempotency_key=f"dead-{chat}")
    await _force(entry.id, status="sending", claimed_by="dead-worker",
                 claimed_at=outbox.utcnow() - timedelta(minutes=10))
    # A live worker's recent claim is left alone…
    [second] = await delivery.send_proactive(conversation_id, Reply(text="Autre"), idempotency_key=f"live-{chat}")
    assert second.status == "pending"  # held behind the first, which is "sending"
    before = len(fake_telegram.sent(chat))
    await run_worker(3)
    rows = {r.id: r for r in await outbox_rows(conversation_id)}
    # The provider may have it: "unknown", not "failed", and Telegram sends no receipt to say otherwise.
    assert (rows[entry.id].status, rows[entry.id].last_error) == ("unknown", outbox.INTERRUPTED)
    assert [m["text"] for m in fake_telegram.sent(chat)[before:]] == ["Autre"]  # the next one goes, the first never
    await run_worker(3)
    assert (await outbox.get_entry(entry.id)).status == "unknown"
    assert "Rappel" not in [m["text"] for m in fake_telegram.sent(chat)[before:]]
    listing = await client.get("/api/outbox", params={"status": "unknown", "conversation_id": conversation_id},
                               headers=staff_headers())
    assert listing.status_code == 200
    assert [(i["id"], i["status"]) for i in listing.json()] == [(entry.id, "unknown")]


async def test_a_recent_claim_is_not_swept(client, fake_engine, fake_telegram):
    chat, conversation_id = await telegram_conversation(client)
    fake_telegram.failures = [500]
    [entry] = await delivery.send_proactive(conversation_id, Reply(text="Rappel"), idempotency_key=f"busy-{chat}")
    await _force(entry.id, status="sending", claimed_by="other-instance", claimed_at=outbox.utcnow())
    await run_worker()
    assert (await outbox.get_entry(entry.id)).status == "sending"
    assert "Rappel" not in [m["text"] for m in fake_telegram.sent(chat)]


async def test_several_workers_never_send_the_same_row_twice(client, fake_engine, fake_telegram, fake_twilio):
    conversations = []
    for _ in range(6):
        chat, conversation_id = await telegram_conversation(client)
        conversations.append((chat, conversation_id))
    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))
    sms_conversation = (await conversation_of("sms", phone)).id
    fake_telegram.failures = [500] * 12  # every first attempt fails: all rows wait for the workers
    fake_twilio.failures = [(500, None)] * 3
    for chat, conversation_id in conversations:
        for n in range(2):
            await delivery.send_proactive(conversation_id, Reply(text=f"m{n}"), idempotency_key=f"multi-{chat}-{n}")
    for n in range(3):
        await delivery.send_proactive(sms_conversation, Reply(text=f"s{n}"), idempotency_key=f"multi-{phone}-{n}")
    fake_telegram.failures.clear()
    fake_twilio.failures.clear()
    workers = [outbox.Worker(delivery.dispatch, name=f"instance-{i}") for i in range(4)]
    for _ in range(4):
        await asyncio.gather(*(worker.run_once() for worker in workers))
    for chat, _ in conversations:
        assert [m["text"] for m in fake_telegram.sent(chat)][1:] == ["m0", "m1"]  # once each, in order
    assert fake_twilio.to(phone)[1:] == ["s0", "s1", "s2"]
    assert {r.status for r in await outbox_rows()} == {"sent"}


async def test_a_message_waiting_for_a_retry_holds_back_the_later_ones(client, fake_engine, fake_telegram, monkeypatch):
    from bot.core import config as settings

    monkeypatch.setenv("OUTBOX_RETRY_BASE_SECONDS", "60")
    settings.reset_settings()
    chat, conversation_id = await telegram_conversation(client)
    fake_telegram.failures = [500]
    await delivery.send_proactive(conversation_id, Reply(text="premier"), idempotency_key=f"o1-{chat}")
    [second] = await delivery.send_proactive(conversation_id, Reply(text="second"), idempotency_key=f"o2-{chat}")
    assert second.status == "pending"
    assert await run_worker() == 0  # the first waits a minute; the second waits for it
    texts = [m["text"] for m in fake_telegram.sent(chat)]
    assert "second" not in texts


def at_paris(hour: int, minute: int = 0, day: int = 15, month: int = 1) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(2027, month, day, hour, minute, tzinfo=ZoneInfo(PARIS)).astimezone(UTC)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [(at_paris(20, 59), None), (at_paris(21, 0), at_paris(8, 0, day=16)), (at_paris(23, 30), at_paris(8, 0, day=16)),
     (at_paris(3, 0), at_paris(8, 0)), (at_paris(8, 0), None), (at_paris(12, 0), None),
     # the night daylight saving time starts (28 March 2027): 08:00 is still 08:00 in Paris
     (at_paris(22, 0, day=27, month=3), at_paris(8, 0, day=28, month=3))],
)
def test_quiet_hours_in_paris_time(monkeypatch, moment, expected):
    from bot.core import config as settings

    monkeypatch.setenv("OUTBOX_QUIET_HOURS", "21:00-08:00")
    settings.reset_settings()
    assert outbox.quiet_until(moment, "sms", urgent=False, kind="proactive") == expected
    assert outbox.quiet_until(moment, "sms", urgent=True, kind="proactive") is None
    assert outbox.quiet_until(moment, "telegram", urgent=False, kind="reply") is None
    assert outbox.quiet_until(moment, "web", urgent=False, kind="proactive") is None


async def test_at_night_reminders_wait_for_the_morning_but_urgent_messages_and_replies_do_not(
        client, fake_engine, fake_twilio, monkeypatch):
    from bot.core import config as settings

    monkeypatch.setenv("OUTBOX_QUIET_HOURS", "21:00-08:00")
    settings.reset_settings()
    night = at_paris(23, 15)
    monkeypatch.setattr(outbox, "clock", lambda: night)
    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))  # a patient writing at night gets the answer at night
    assert len(fake_twilio.to(phone)) == 1
    conversation_id = (await conversation_of("sms", phone)).id
    [reminder] = await delivery.send_proactive(conversation_id, Reply(text="Rappel RDV"),
                                               idempotency_key=f"night-{phone}")
    assert (reminder.status, reminder.next_attempt_at) == ("pending", at_paris(8, 0, day=16))
    [urgent] = await delivery.send_proactive(conversation_id, Reply(text="Votre résultat est prêt, rappelez-nous"),
                                             idempotency_key=f"urgent-{phone}", urgent=True)
    assert urgent.status == "sent"
    await run_worker()
    assert "Rappel RDV" not in fake_twilio.to(phone)

    monkeypatch.setattr(outbox, "clock", lambda: at_paris(8, 1, day=16))
    await run_worker()
    assert fake_twilio.to(phone)[-1] == "Rappel RDV"


async def test_an_engine_trigger_runs_once_and_is_retried_while_the_engine_is_down(client, fake_engine, fake_telegram):
    chat, conversation_id = await telegram_conversation(client)
    fake_engine.down = True
    [entry] = await delivery.trigger_proactive(conversation_id, "checkin_start", {"week": 3},
                                               idempotency_key=f"checkin-{chat}-w3")
    assert (entry.kind, entry.status, entry.last_error) == ("trigger", "pending", "engine: fake engine is down")
    fake_engine.down = False
    await run_worker()
    again = await delivery.trigger_proactive(conversation_id, "checkin_start", {"week": 3},
                                             idempotency_key=f"checkin-{chat}-w3")
    assert [e.status for e in again] == ["sent"]
    await run_worker()
    assert [t["intent"] for t in fake_engine.triggered] == ["checkin_start", "checkin_start"]  # down, then once
    assert fake_engine.triggered[-1]["entities"] == {"week": 3}


async def test_engine_messages_reach_the_patients_channel_through_the_outbox(client, fake_engine, fake_telegram):
    from bot.core.config import settings

    chat, conversation_id = await telegram_conversation(client)
    headers = {"Authorization": f"Bearer {settings().gateway_token}"}
    body = {"recipient_id": conversation_id, "text": "Comment allez-vous cette semaine ?",
            "buttons": [{"title": "Bien", "payload": "/affirm"}]}
    response = await client.post("/internal/rasa/outbound", json=body, headers=headers)
    assert response.status_code == 202
    sent = fake_telegram.sent(chat)[-1]
    assert sent["text"] == "Comment allez-vous cette semaine ?"
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "p:/affirm"
    [row] = [r for r in await outbox_rows(conversation_id) if r.kind == "proactive"]
    assert row.message_id is not None and row.status == "sent"
    unknown = await client.post("/internal/rasa/outbound", json={**body, "recipient_id": "nobody"}, headers=headers)
    assert unknown.status_code == 404


async def test_a_registered_web_deliverer_gets_proactive_messages(client, fake_engine, monkeypatch):
    pushed = []

    async def push(conversation, reply):
        pushed.append((conversation.sender, reply.text))

    load_channels()
    monkeypatch.setitem(channels._channels, "web", Channel(name="web", deliver=push))
    session = web_session()
    body = (await client.post("/api/chat", json={"sender": session, "text": "bonjour"})).json()
    [entry] = await delivery.send_proactive(body["conversation_id"], Reply(text="Une infirmière vous répond"),
                                            idempotency_key="nurse-reply-1", author="nurse")
    assert entry.status == "sent"
    assert pushed == [(session, "Une infirmière vous répond")]


async def test_sending_to_an_unknown_conversation_is_an_error(fake_engine):
    with pytest.raises(delivery.UnknownConversation):
        await delivery.send_proactive("0" * 32, Reply(text="x"), idempotency_key="unknown-conversation")


async def test_delivery_status_is_visible_from_the_back_office_api(client, fake_engine, fake_telegram):
    chat, conversation_id = await telegram_conversation(client)
    fake_telegram.failures = [502]
    [entry] = await delivery.send_proactive(conversation_id, Reply(text="Rappel"), idempotency_key=f"api-{chat}")
    listing = await client.get("/api/outbox", params={"conversation_id": conversation_id}, headers=staff_headers())
    assert listing.status_code == 200
    items = listing.json()
    assert [(i["kind"], i["status"]) for i in items] == [("proactive", "pending"), ("reply", "sent")]
    assert "Rappel" not in listing.text  # status only; the text is in the transcript
    item = (await client.get(f"/api/outbox/{entry.id}", headers=staff_headers())).json()
    assert (item["attempts"], item["last_error"], item["idempotency_key"]) == (
        1, "telegram unreachable (NetworkError)", f"api-{chat}")
    assert (await client.get("/api/outbox/999999999", headers=staff_headers())).status_code == 404
    nonsense = await client.get("/api/outbox", params={"status": "nonsense"}, headers=staff_headers())
    assert nonsense.status_code == 422
    pending = (await client.get("/api/outbox", params={"status": "pending"}, headers=staff_headers())).json()
    assert [i["id"] for i in pending] == [entry.id]


@pytest.mark.parametrize("item_id", ["2147483648", "9223372036854775808", "0", "-1"])
async def test_an_outbox_id_outside_the_databases_integer_is_refused(client, fake_engine, item_id):
    """PostgreSQL's integer stops at 2**31 - 1: a larger id used to reach the query and fail with a 500."""
    response = await client.get(f"/api/outbox/{item_id}", headers=staff_headers())
    assert response.status_code == 422
    assert (await client.get("/api/outbox/2147483647", headers=staff_headers())).status_code == 404


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}])
async def test_delivery_status_needs_the_staff_token(client, fake_engine, headers):
    for path in ("/api/outbox", "/api/outbox/1"):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_the_rate_limit_spaces_messages(monkeypatch):
    from bot.core import config as settings

    monkeypatch.setenv("OUTBOX_RATE_LIMITS", "sms=20")
    settings.reset_settings()
    limiter = outbox.RateLimiter()
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire("sms") for _ in range(30)))
    assert time.monotonic() - started >= 0.45  # 20 at once (the bucket), then 10 at 20 a second
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire("telegram") for _ in range(100)))  # no limit set
    assert time.monotonic() - started < 0.1


def test_backoff_grows_exponentially_up_to_the_cap(monkeypatch):
    from bot.core import config as settings

    monkeypatch.setenv("OUTBOX_RETRY_BASE_SECONDS", "5")
    monkeypatch.setenv("OUTBOX_RETRY_MAX_SECONDS", "900")
    settings.reset_settings()
    delays = [outbox.backoff_seconds(n) for n in range(1, 12)]
    assert 4 <= delays[0] <= 6 and 8 <= delays[1] <= 12 and 16 <= delays[2] <= 24
    assert max(delays) <= 900 * 1.2
    assert outbox.backoff_seconds(1, retry_after=120) == 120


async def test_the_background_worker_retries_by_itself(client, fake_engine, fake_telegram, monkeypatch):
    from bot.core import config as settings

    monkeypatch.setenv("OUTBOX_POLL_SECONDS", "0.05")
    settings.reset_settings()
    chat, conversation_id = await telegram_conversation(client)
    fake_telegram.failures = [503, 503]
    outbox.start_worker(delivery.dispatch)
    try:
        [entry] = await delivery.send_proactive(conversation_id, Reply(text="Rappel"), idempotency_key=f"bg-{chat}")
        for _ in range(100):
            if (await outbox.get_entry(entry.id)).status == "sent":
                break
            await asyncio.sleep(0.05)
    finally:
        await outbox.stop_worker()
    assert (await outbox.get_entry(entry.id)).attempts == 3
    assert [m["text"] for m in fake_telegram.sent(chat)].count("Rappel") == 1
