"""SMS end to end: Twilio-format webhook → message path → fake engine → outbox → fake Twilio API."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot.conversation.transcript import Reply
from bot.core import db
from bot.messaging import delivery, outbox
from bot.messaging.models import OutboxMessage
from connectors.sms import channel as sms
from tests.channels.builders import (
    PUBLIC_URL,
    conversation_of,
    count_messages,
    failing_write,
    new_phone,
    outbox_rows,
    post_sms,
    run_worker,
    sms_form,
)
from tests.staff import staff_headers


async def test_an_sms_gets_the_engines_reply_with_numbered_options(client, fake_engine, fake_twilio):
    phone = new_phone()
    response = await post_sms(client, sms_form(phone, "horaires cardio svp"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text.endswith("<Response></Response>")
    assert fake_engine.received[0]["metadata"]["channel"] == "sms"
    assert fake_engine.received[0]["metadata"]["reply_style"] == "short"  # the engine's SMS variations
    assert phone not in str(fake_engine.received)  # the engine sees a conversation id, not the number
    [body] = fake_twilio.to(phone)
    assert body == "echo: horaires cardio svp\n\n1. Cardiologie\n2. Rythmologie\nRépondez par le numéro."
    message = fake_twilio.messages[0]
    assert message["From"] == "+33700000000"
    [row] = await outbox_rows((await conversation_of("sms", phone)).id)
    # Our row id rides in the signed callback URL: a receipt finds the row even if its sid was never recorded.
    assert message["StatusCallback"] == f"{PUBLIC_URL}/webhooks/sms/status?row={row.id}"


async def test_answering_a_number_picks_that_option_once(client, fake_engine, fake_twilio):
    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))
    await post_sms(client, sms_form(phone, " 2 "))
    assert fake_engine.received[-1]["text"].startswith(
        '/inform_service{"service": "cardiologie_interventionnelle_rythmologie"')
    fake_engine.replies = [{"text": "Sur une échelle de 0 à 10 ?"}]  # no options this time
    await post_sms(client, sms_form(phone, "1."))
    assert fake_engine.received[-1]["text"].startswith("/inform_service")  # the options sent with the last reply
    await post_sms(client, sms_form(phone, "1"))
    assert fake_engine.received[-1]["text"] == "1"  # a pain score, not an option: none were offered


async def test_a_number_beyond_the_options_is_plain_text(client, fake_engine, fake_twilio):
    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))
    await post_sms(client, sms_form(phone, "7"))
    assert fake_engine.received[-1]["text"] == "7"


@pytest.mark.parametrize("signature", [None, "", "bm90IGEgc2lnbmF0dXJl"])
async def test_a_bad_signature_is_refused_and_nothing_is_processed(client, fake_engine, fake_twilio, signature):
    phone = new_phone()
    response = await post_sms(client, sms_form(phone, "bonjour"), signature=signature)
    assert response.status_code == 403
    assert not fake_engine.received and not fake_twilio.messages
    assert await conversation_of("sms", phone) is None


async def test_a_signature_over_other_fields_or_another_url_is_refused(client, fake_engine, fake_twilio):
    from tests.channels.conftest import twilio_signature

    phone = new_phone()
    form = sms_form(phone, "bonjour")
    forged = twilio_signature(PUBLIC_URL + "/webhooks/sms", {**form, "Body": "autre chose"})
    assert (await post_sms(client, form, signature=forged)).status_code == 403
    assert (await post_sms(client, form, url="https://attacker.example/webhooks/sms")).status_code == 403
    assert not fake_engine.received


async def test_without_configuration_the_webhook_says_so(client, fake_engine, monkeypatch):
    from bot.core import config as settings

    monkeypatch.delenv("PARCOURS_PUBLIC_URL")
    settings.reset_settings()
    response = await post_sms(client, sms_form(new_phone(), "bonjour"))
    assert response.status_code == 503
    assert "PARCOURS_PUBLIC_URL" in response.json()["detail"]


async def test_a_redelivered_message_sid_gets_one_answer(client, fake_engine, fake_twilio):
    phone = new_phone()
    form = sms_form(phone, "bonjour")
    outcomes = [(await post_sms(client, form)).headers["x-parcours-outcome"] for _ in range(3)]
    assert outcomes == ["message", "duplicate", "duplicate"]
    assert len(fake_engine.received) == 1
    assert len(fake_twilio.to(phone)) == 1


async def test_a_message_that_failed_to_be_stored_is_answered_when_redelivered(
        client, fake_engine, fake_twilio, monkeypatch):
    """The MessageSid commits with the message: a failed write answers 503 and keeps neither, so a
    redelivery (Twilio's fallback, a replay) is processed, not skipped as a duplicate."""
    from bot.conversation import message_path

    phone = new_phone()
    form = sms_form(phone, "bonjour")
    with monkeypatch.context() as patched:
        patched.setattr(message_path, "record_incoming", failing_write)
        assert (await post_sms(client, form)).status_code == 503
    response = await post_sms(client, form)
    assert response.headers["x-parcours-outcome"] == "message"
    assert len(fake_twilio.to(phone)) == 1
    assert await count_messages("sms", phone) == 2


async def test_an_empty_sms_gets_a_polite_request_for_text(client, fake_engine, fake_twilio):
    phone = new_phone()
    response = await post_sms(client, sms_form(phone, "   "))
    assert response.status_code == 200
    assert fake_twilio.to(phone)[0].startswith("Je n'ai pas reçu de texte.")
    assert not fake_engine.received


async def test_a_picture_message_gets_the_text_only_answer(client, fake_engine, fake_twilio):
    phone = new_phone()
    await post_sms(client, sms_form(phone, "", NumMedia="1", MediaUrl0="https://api.twilio.com/media/1"))
    assert fake_twilio.to(phone)[0].startswith("Je ne peux lire que des messages écrits.")
    assert not fake_engine.received


@pytest.mark.parametrize(
    ("body", "status", "content_type"),
    [("From=%2B33611111111&Body=x", 400, "application/x-www-form-urlencoded"),  # no MessageSid (signed below)
     ('{"From": "+33611111111"}', 415, "application/json"),
     ("Body=" + "a" * 70_000, 413, "application/x-www-form-urlencoded")],
)
async def test_malformed_requests_get_a_4xx(client, fake_engine, fake_twilio, body, status, content_type):
    from urllib.parse import parse_qsl

    from tests.channels.conftest import twilio_signature

    headers = {"Content-Type": content_type,
               "X-Twilio-Signature": twilio_signature(PUBLIC_URL + "/webhooks/sms", dict(parse_qsl(body)))}
    response = await client.post("/webhooks/sms", content=body, headers=headers)
    assert response.status_code == status
    assert not fake_engine.received and not fake_twilio.messages


async def test_invalid_utf8_is_refused(client, fake_engine):
    response = await client.post("/webhooks/sms", content=b"Body=\xff\xfe",
                                 headers={"Content-Type": "application/x-www-form-urlencoded",
                                          "X-Twilio-Signature": "x"})
    assert response.status_code == 400


@pytest.mark.parametrize("word", ["STOP", "stop.", "Arrêt", "ARRET", "stop sms"])
async def test_stop_opts_out_of_proactive_messages_and_start_opts_back_in(client, fake_engine, fake_twilio, word):
    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))
    conversation = await conversation_of("sms", phone)
    await post_sms(client, sms_form(phone, word))
    assert fake_twilio.to(phone)[-1].startswith("Vous ne recevrez plus de rappels")
    assert len(fake_engine.received) == 1  # keywords never reach the engine

    [entry] = await delivery.send_proactive(conversation.id, Reply(text="Rappel : RDV demain"),
                                            idempotency_key=f"stop-{phone}")
    assert (entry.status, entry.last_error) == ("cancelled", "opted out")
    await post_sms(client, sms_form(phone, "une question"))  # the patient may still write, and gets answers
    assert fake_twilio.to(phone)[-1].startswith("echo: une question")

    await post_sms(client, sms_form(phone, "START"))
    assert fake_twilio.to(phone)[-1].startswith("C'est noté : vous recevrez à nouveau")
    [entry] = await delivery.send_proactive(conversation.id, Reply(text="Rappel : RDV demain"),
                                            idempotency_key=f"start-{phone}")
    assert entry.status == "sent"
    assert fake_twilio.to(phone)[-1] == "Rappel : RDV demain"


async def test_a_stop_redelivered_after_start_does_not_opt_the_patient_out_again(client, fake_engine, fake_twilio):
    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))
    conversation = await conversation_of("sms", phone)
    stop = sms_form(phone, "STOP")
    await post_sms(client, stop)
    await post_sms(client, sms_form(phone, "START"))
    assert (await post_sms(client, stop)).headers["x-parcours-outcome"] == "duplicate"
    [entry] = await delivery.send_proactive(conversation.id, Reply(text="Rappel"), idempotency_key=f"redo-{phone}")
    assert entry.status == "sent"


async def test_an_option_whose_first_delivery_failed_to_be_stored_is_still_that_option(
        client, fake_engine, fake_twilio, monkeypatch):
    from bot.conversation import message_path

    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))
    answer = sms_form(phone, "2")
    with monkeypatch.context() as patched:
        patched.setattr(message_path, "record_incoming", failing_write)
        assert (await post_sms(client, answer)).status_code == 503
    response = await post_sms(client, answer)
    assert response.headers["x-parcours-outcome"] == "option"
    assert fake_engine.received[-1]["text"].startswith('/inform_service{"service": "cardiologie_interventionnelle')


async def test_a_proactive_message_queued_before_stop_is_not_sent_after_it(client, fake_engine, fake_twilio):
    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))
    conversation = await conversation_of("sms", phone)
    fake_twilio.failures = [(503, None)]
    [entry] = await delivery.send_proactive(conversation.id, Reply(text="Rappel"), idempotency_key=f"q-{phone}")
    assert entry.status == "pending"
    await post_sms(client, sms_form(phone, "STOP"))
    await run_worker()
    [row] = [r for r in await outbox_rows(conversation.id) if r.kind == "proactive"]
    assert row.status == "cancelled"
    assert "Rappel" not in fake_twilio.to(phone)


async def test_an_emergency_answer_mentions_114(client, fake_engine, fake_twilio):
    phone = new_phone()
    fake_engine.replies = [
        {"text": "Appelez le 15 immédiatement."},
        {"custom": {"triage": {"level": "emergency_call", "red_flags": ["chest_pain"]},
                    "call": {"number": "15", "label": "Appeler le 15"}}},
    ]
    await post_sms(client, sms_form(phone, "j'ai une douleur dans la poitrine"))
    [body] = fake_twilio.to(phone)
    assert body == "Appelez le 15 immédiatement.\n\nPersonnes sourdes ou malentendantes : 114 par SMS."
    fake_engine.replies = [{"text": "Appelez le 15. Sourds et malentendants : 114.",
                            "custom": {"triage": {"level": "emergency_call"}}}]
    await post_sms(client, sms_form(phone, "encore mal"))
    assert fake_twilio.to(phone)[-1].count("114") == 1


async def test_a_long_french_reply_is_split_at_segment_boundaries(client, fake_engine, fake_twilio, monkeypatch):
    from bot.core import config as settings

    monkeypatch.setenv("SMS_MAX_SEGMENTS", "2")
    settings.reset_settings()
    phone = new_phone()
    text = ("Préparez-vous à l'examen : être à jeun depuis la veille, apporter votre carte Vitale, "
            "l'ordonnance et vos anciens clichés. Prévoyez d'arriver quinze minutes en avance. ") * 3
    fake_engine.replies = [{"text": text}]
    await post_sms(client, sms_form(phone, "coloscopie"))
    parts = fake_twilio.to(phone)
    assert len(parts) >= 4
    assert all(sms.segments(part) <= 2 for part in parts)
    assert all(sms.units(part) <= 2 * 67 for part in parts if sms.encoding(part) == "UCS-2")
    assert [part.split(" ", 1)[0] for part in parts] == [f"({i}/{len(parts)})" for i in range(1, len(parts) + 1)]
    assert " ".join(part.split(" ", 1)[1] for part in parts).split() == text.split()
    rows = await outbox_rows((await conversation_of("sms", phone)).id)
    assert [r.status for r in rows] == ["sent"] * len(parts)  # one row per SMS: a retry never resends a part


async def test_when_the_provider_is_down_the_sms_is_retried_then_delivered(client, fake_engine, fake_twilio):
    phone = new_phone()
    fake_twilio.failures = [(500, 20500), (503, None)]
    await post_sms(client, sms_form(phone, "bonjour"))
    assert fake_twilio.to(phone) == []
    conversation = await conversation_of("sms", phone)
    [row] = await outbox_rows(conversation.id)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "twilio 500 code 20500")
    await run_worker(3)
    assert len(fake_twilio.to(phone)) == 1
    [row] = await outbox_rows(conversation.id)
    assert (row.status, row.attempts) == ("sent", 3)


async def test_an_invalid_number_fails_at_once(client, fake_engine, fake_twilio):
    phone = new_phone()
    fake_twilio.failures = [(400, 21211)]
    await post_sms(client, sms_form(phone, "bonjour"))
    [row] = await outbox_rows((await conversation_of("sms", phone)).id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 1, "twilio 400 code 21211")


async def test_delivery_receipts_update_the_outbox(client, fake_engine, fake_twilio):
    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))
    [row] = await outbox_rows((await conversation_of("sms", phone)).id)
    receipt = {"MessageSid": row.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30005",
               "AccountSid": "AC"}
    bad = await post_sms(client, receipt, signature="forged", path="/webhooks/sms/status")
    assert bad.status_code == 403
    response = await post_sms(client, receipt, url=PUBLIC_URL + "/webhooks/sms/status", path="/webhooks/sms/status")
    assert response.status_code == 200
    item = (await client.get(f"/api/outbox/{row.id}", headers=staff_headers())).json()
    assert (item["status"], item["provider_status"], item["last_error"]) == (
        "sent", "undelivered", "twilio delivery error 30005")


async def _interrupted_sms(client, fake_twilio) -> tuple[str, OutboxMessage, str, str]:
    """An SMS the provider accepted, from a worker killed before it could record the provider's answer."""
    phone = new_phone()
    await post_sms(client, sms_form(phone, "bonjour"))
    conversation = await conversation_of("sms", phone)
    [entry] = await delivery.send_proactive(conversation.id, Reply(text="Rappel"), idempotency_key=f"kill-{phone}")
    callback, sid = fake_twilio.messages[-1]["StatusCallback"], entry.provider_id
    async with db.session_scope() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == entry.id).values(
            status="sending", provider_id=None, sent_at=None, claimed_by="killed-worker",
            claimed_at=outbox.utcnow() - timedelta(minutes=10)))
    await run_worker(3)
    [row] = [r for r in await outbox_rows(conversation.id) if r.id == entry.id]
    return phone, row, callback, sid


@pytest.mark.parametrize(("receipt", "expected"), [
    ({"MessageStatus": "delivered"}, ("sent", "delivered", None)),
    ({"MessageStatus": "sent"}, ("sent", "sent", None)),
    ({"MessageStatus": "undelivered", "ErrorCode": "30005"}, ("failed", "undelivered", "twilio delivery error 30005")),
    ({"MessageStatus": "failed", "ErrorCode": "30008"}, ("failed", "failed", "twilio delivery error 30008")),
])
async def test_an_sms_interrupted_mid_send_is_unknown_until_its_receipt_says(
        client, fake_engine, fake_twilio, receipt, expected):
    phone, row, callback, sid = await _interrupted_sms(client, fake_twilio)
    assert (row.status, row.last_error) == ("unknown", outbox.INTERRUPTED)  # not "failed": the provider may have it
    assert fake_twilio.to(phone).count("Rappel") == 1  # and never resent blindly
    form = {"MessageSid": sid, "AccountSid": "AC", **receipt}
    path = callback.removeprefix(PUBLIC_URL)
    unsigned_row = await post_sms(client, form, url=PUBLIC_URL + "/webhooks/sms/status", path=path)
    assert unsigned_row.status_code == 403  # the row id is part of what Twilio signs
    response = await post_sms(client, form, url=callback, path=path)
    assert response.status_code == 200
    item = (await client.get(f"/api/outbox/{row.id}", headers=staff_headers())).json()
    assert (item["status"], item["provider_status"], item["last_error"]) == expected
    assert item["provider_id"] == sid
    await run_worker(2)
    assert fake_twilio.to(phone).count("Rappel") == 1


async def test_a_late_receipt_does_not_undo_a_reconciled_row(client, fake_engine, fake_twilio):
    _, row, callback, sid = await _interrupted_sms(client, fake_twilio)
    path = callback.removeprefix(PUBLIC_URL)
    for status in ("delivered", "queued"):  # Twilio's callbacks may arrive out of order
        form = {"MessageSid": sid, "AccountSid": "AC", "MessageStatus": status}
        assert (await post_sms(client, form, url=callback, path=path)).status_code == 200
    item = (await client.get(f"/api/outbox/{row.id}", headers=staff_headers())).json()
    assert (item["status"], item["provider_status"]) == ("sent", "queued")


async def test_a_row_marked_failed_as_interrupted_before_unknown_existed_is_settled_too(
        client, fake_engine, fake_twilio):
    _, row, callback, sid = await _interrupted_sms(client, fake_twilio)
    async with db.session_scope() as session:
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(status="failed"))
    form = {"MessageSid": sid, "AccountSid": "AC", "MessageStatus": "delivered"}
    assert (await post_sms(client, form, url=callback, path=callback.removeprefix(PUBLIC_URL))).status_code == 200
    item = (await client.get(f"/api/outbox/{row.id}", headers=staff_headers())).json()
    assert (item["status"], item["last_error"]) == ("sent", None)


@pytest.mark.parametrize("row_id", ["2147483648", "0", "abc"])
async def test_a_receipt_for_an_impossible_row_is_refused(client, fake_engine, row_id):
    url = f"{PUBLIC_URL}/webhooks/sms/status?row={row_id}"
    form = {"MessageSid": "SM" + "1" * 32, "AccountSid": "AC", "MessageStatus": "delivered"}
    response = await post_sms(client, form, url=url, path=f"/webhooks/sms/status?row={row_id}")
    assert response.status_code == 422


async def test_the_log_provider_logs_no_text_and_no_number(client, fake_engine, fake_twilio, monkeypatch, caplog):
    from bot.core import config as settings

    monkeypatch.setenv("SMS_PROVIDER", "log")
    settings.reset_settings()
    phone = new_phone()
    with caplog.at_level(logging.INFO):  # (DEBUG would show aiosqlite echoing SQL parameters)
        await post_sms(client, sms_form(phone, "j'ai mal au ventre depuis hier"))
    assert not fake_twilio.messages
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "not sent (log provider)" in logged
    assert "ventre" not in logged and "echo" not in logged and phone not in logged
    [row] = await outbox_rows((await conversation_of("sms", phone)).id)
    assert row.status == "sent" and row.provider_id.startswith("log-")
    assert await count_messages("sms", phone) == 2
