"""Identity across channels: one patient on two channels only after a code sent by SMS to their number."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.conversation import identity
from bot.conversation.models import Patient, PhoneVerification
from bot.core import db
from bot.messaging import outbox
from tests.channels.builders import conversation_of, new_phone, post_sms, sms_form

_senders = itertools.count(1)


def national(phone: str) -> str:
    """How a French patient types their number: "06 12 34 56 78"."""
    digits = "0" + phone[3:]
    return " ".join(digits[i:i + 2] for i in range(0, 10, 2))


async def chat(client, sender: str, text: str) -> dict:
    response = await client.post("/api/chat", json={"sender": sender, "text": text, "channel": "web"})
    assert response.status_code == 200, response.text
    return response.json()


def said(body: dict) -> str:
    return " ".join(reply["text"] for reply in body["replies"])


async def start_linking(client, language_text: str = "je veux relier mon numero") -> tuple[str, str]:
    """A web patient asks to link their number; the engine's action_link_phone does expect_phone."""
    sender = f"web-identity-{next(_senders)}"
    body = await chat(client, sender, language_text)
    await identity.expect_phone(body["conversation_id"])
    return sender, body["conversation_id"]


def code_in(texts: list[str]) -> str:
    [code] = re.findall(r"\b\d{6}\b", texts[-1])
    return code


async def patient_of(conversation_id: str) -> Patient | None:
    async with db.session_scope() as session:
        conversations = await identity.linked_conversations(session, conversation_id)
        patient_id = conversations[0].patient_id if conversations else None
        return await session.get(Patient, patient_id) if patient_id else None


@pytest.mark.parametrize(("typed", "expected"), [
    ("06 12 34 56 78", "+33612345678"),
    ("0612345678", "+33612345678"),
    ("07.12.34.56.78", "+33712345678"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("0033612345678", "+33612345678"),
    ("+44 7700 900123", "+447700900123"),
    ("01 23 45 67 89", None),  # a landline cannot receive the code
    ("06 12 34", None),
    ("appelez-moi", None),
    ("12345678901234567890", None),
    ("+1234567", None),  # E.164 has 8 to 15 digits
    ("+1234567890123456", None),
])
def test_mobile_numbers_are_read_as_people_type_them(typed, expected):
    assert identity.normalise_mobile(typed) == expected


async def test_a_code_sent_by_sms_links_the_web_chat_and_the_sms_conversation(client, fake_engine, fake_twilio):
    phone = new_phone()
    sender, conversation_id = await start_linking(client)
    body = await chat(client, sender, national(phone))
    assert "code" in said(body) and phone[-2:] in said(body) and phone[3:-2] not in said(body)
    code = code_in(fake_twilio.to(phone))
    body = await chat(client, sender, code[:3] + " " + code[3:])
    assert "vérifié" in said(body)
    # Neither the number nor the code reached the engine: it only saw the request.
    assert [m["text"] for m in fake_engine.received] == ["je veux relier mon numero"]

    patient = await patient_of(conversation_id)
    assert patient is not None and patient.phone == phone and patient.phone_verified
    sms_conversation = await conversation_of("sms", phone)
    assert sms_conversation.patient_id == patient.id
    # When that number writes by SMS, it is the same patient.
    await post_sms(client, sms_form(phone, "bonjour"))
    async with db.session_scope() as session:
        linked = await identity.linked_conversations(session, conversation_id)
    assert {(c.channel, c.patient_id) for c in linked} == {("web", patient.id), ("sms", patient.id)}


async def test_a_second_channel_verifying_the_same_number_joins_the_same_patient(client, fake_engine, fake_twilio):
    phone = new_phone()
    first_sender, first = await start_linking(client)
    await chat(client, first_sender, phone)
    await chat(client, first_sender, code_in(fake_twilio.to(phone)))
    second_sender, second = await start_linking(client, "link my phone number")
    body = await chat(client, second_sender, phone)
    assert "texted a code" in said(body)  # in the patient's language
    await chat(client, second_sender, code_in(fake_twilio.to(phone)))
    assert (await patient_of(first)).id == (await patient_of(second)).id


async def test_without_a_code_two_channels_stay_two_strangers(client, fake_engine, fake_twilio):
    phone = new_phone()
    sender, conversation_id = await start_linking(client)
    await chat(client, sender, phone)
    await post_sms(client, sms_form(phone, "bonjour"))
    assert await patient_of(conversation_id) is None
    assert (await conversation_of("sms", phone)).patient_id is None


async def test_wrong_codes_are_counted_and_the_fifth_locks_the_code(client, fake_engine, fake_twilio):
    phone = new_phone()
    sender, conversation_id = await start_linking(client)
    await chat(client, sender, phone)
    code = code_in(fake_twilio.to(phone))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        assert f"{left} essai" in said(await chat(client, sender, wrong))
    assert "Trop d'essais" in said(await chat(client, sender, wrong))
    # Locked: even the right code is now an ordinary message for the engine.
    body = await chat(client, sender, code)
    assert said(body) == f"echo: {code}"
    assert await patient_of(conversation_id) is None


async def test_an_expired_code_no_longer_works(client, fake_engine, fake_twilio, monkeypatch):
    phone = new_phone()
    sender, conversation_id = await start_linking(client)
    await chat(client, sender, phone)
    code = code_in(fake_twilio.to(phone))
    later = outbox.clock() + identity.CODE_TTL + timedelta(seconds=1)
    monkeypatch.setattr(outbox, "clock", lambda: later)
    assert "expiré" in said(await chat(client, sender, code))
    assert await patient_of(conversation_id) is None


async def test_a_corrected_number_gets_a_new_code_and_the_first_stops_working(client, fake_engine, fake_twilio):
    mistyped, right = new_phone(), new_phone()
    sender, conversation_id = await start_linking(client)
    await chat(client, sender, mistyped)
    first_code = code_in(fake_twilio.to(mistyped))
    await chat(client, sender, right)
    second_code = code_in(fake_twilio.to(right))
    if first_code != second_code:
        assert "ne correspond pas" in said(await chat(client, sender, first_code))
    assert "vérifié" in said(await chat(client, sender, second_code))
    assert (await patient_of(conversation_id)).phone == right


async def test_a_landline_is_refused_and_anything_else_cancels(client, fake_engine, fake_twilio):
    sender, _ = await start_linking(client)
    assert "portable" in said(await chat(client, sender, "01 23 45 67 89"))
    body = await chat(client, sender, "finalement non, quels sont les horaires de la cardio")
    assert said(body).startswith("echo: finalement non")  # back to the engine
    phone = new_phone()
    body = await chat(client, sender, phone)
    assert said(body) == f"echo: {phone}"  # nothing waits for a number any more
    assert fake_twilio.to(phone) == []


async def test_a_red_flag_while_waiting_for_the_code_is_an_emergency_and_cancels_it(client, fake_engine, fake_twilio):
    phone = new_phone()
    sender, _ = await start_linking(client)
    await chat(client, sender, phone)
    code = code_in(fake_twilio.to(phone))
    await chat(client, sender, "j'ai une douleur dans la poitrine qui serre et je transpire")
    assert fake_engine.received[-1]["text"].startswith("/emergency")
    assert said(await chat(client, sender, code)) == f"echo: {code}"


async def test_nobody_can_flood_a_number_with_codes(client, fake_engine, fake_twilio):
    phone = new_phone()
    for _ in range(identity.MAX_CODES_PER_HOUR):
        sender, _ = await start_linking(client)
        await chat(client, sender, phone)
    sender, _ = await start_linking(client)
    assert "Trop de codes" in said(await chat(client, sender, phone))
    assert len(fake_twilio.to(phone)) == identity.MAX_CODES_PER_HOUR


async def test_a_number_that_said_stop_gets_no_code(client, fake_engine, fake_twilio):
    phone = new_phone()
    await post_sms(client, sms_form(phone, "STOP"))
    sent_before = len(fake_twilio.to(phone))
    sender, _ = await start_linking(client)
    assert "START" in said(await chat(client, sender, phone))
    assert len(fake_twilio.to(phone)) == sent_before


async def test_the_code_is_stored_only_as_a_salted_hash(client, fake_engine, fake_twilio):
    phone = new_phone()
    sender, conversation_id = await start_linking(client)
    await chat(client, sender, phone)
    code = code_in(fake_twilio.to(phone))
    async with db.session_scope() as session:
        row = await session.scalar(select(PhoneVerification).where(PhoneVerification.conversation_id == conversation_id))
    assert row.status == "code_sent" and row.phone == phone
    assert code not in (row.code_hash or "") and code not in (row.code_salt or "") and len(row.code_hash) == 64
