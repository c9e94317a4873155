"""Identity across channels: one patient on two channels only after a code sent by SMS to their number."""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import delete, func, select

from bot.conversation import identity
from bot.conversation.config import verification_settings
from bot.conversation.models import Patient, PhoneVerification, VerificationBudget
from bot.core import db
from bot.core.config import reset_settings
from bot.messaging import outbox
from bot.messaging.models import OutboxMessage
from tests.channels.builders import conversation_of, new_phone, post_sms, sms_form
from tests.web.sessions import web_session

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
    sender = web_session()
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
    ("07.81.23.45.67", "+33781234567"),
    ("+33 6 12 34 56 78", "+33612345678"),
    ("0033612345678", "+33612345678"),
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
    for _ in range(verification_settings().per_number_hour):
        sender, _ = await start_linking(client)
        await chat(client, sender, phone)
    sender, _ = await start_linking(client)
    assert "Trop de codes" in said(await chat(client, sender, phone))
    assert len(fake_twilio.to(phone)) == verification_settings().per_number_hour


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


# Hardening, defects 1 and 2: SMS pumping and code guesses.

@pytest.fixture(autouse=True)
async def fresh_budgets():
    """Each test spends its own budgets: the tests all come from one client address, 127.0.0.1."""
    async with db.session_scope() as session:
        await session.execute(delete(VerificationBudget))
    yield
    reset_settings()


async def chat_from(address: str, sender: str, text: str, channel: str = "web") -> dict:
    """A message from another client address than the test client's."""
    from bot.main import create_app

    transport = httpx.ASGITransport(app=create_app(), client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as other:
        response = await other.post("/api/chat", json={"sender": sender, "text": text, "channel": channel})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(("typed", "expected"), [
    ("0690 12 34 56", "+590690123456"),  # Guadeloupe, typed the national way
    ("+596 696 12 34 56", "+596696123456"),  # Martinique
    ("0694 12 34 56", "+594694123456"),  # Guyane
    ("+262 692 12 34 56", "+262692123456"),  # La Réunion
    ("0639 01 23 45", "+262639012345"),  # Mayotte
    ("+44 7911 123456", None),  # a real British mobile: not a region the hospital serves
    ("+371 21234567", None),  # Latvia, a favourite of SMS pumping
    ("+882 1234 5678", None),  # international networks: premium rates
    ("09 12 34 56 78", None),  # a VoIP line
    ("0590 12 34 56", None),  # a Guadeloupe landline
])
def test_codes_go_to_mobiles_of_the_regions_the_hospital_serves(typed, expected):
    assert identity.normalise_mobile(typed) == expected


@pytest.mark.parametrize("typed", ["+44 7911 123456", "+371 21234567", "+882 1234 5678", "01 23 45 67 89"])
async def test_numbers_abroad_and_landlines_get_no_code(client, fake_engine, fake_twilio, typed):
    sender, _ = await start_linking(client)
    assert "portable" in said(await chat(client, sender, typed))
    assert fake_twilio.messages == []


async def test_the_regions_served_are_a_setting(client, fake_engine, fake_twilio, monkeypatch):
    monkeypatch.setenv("PHONE_VERIFICATION_REGIONS", "FR,GB")
    reset_settings()
    sender, _ = await start_linking(client)
    await chat(client, sender, "+44 7400 123456")
    assert len(fake_twilio.to("+447400123456")) == 1


async def test_the_api_channel_cannot_ask_for_a_code(client, fake_engine, fake_twilio):
    sender = f"integration-{next(_senders)}"
    response = await client.post("/api/chat", json={"sender": sender, "text": "je veux relier mon numero",
                                                    "channel": "api"})
    await identity.expect_phone(response.json()["conversation_id"])
    phone = new_phone()
    response = await client.post("/api/chat", json={"sender": sender, "text": phone, "channel": "api"})
    assert "site de l'hôpital" in said(response.json())
    assert fake_twilio.to(phone) == []


async def test_a_script_opening_a_new_conversation_per_request_is_stopped(client, fake_engine, fake_twilio):
    limit = verification_settings().client_hour
    for _ in range(limit + 3):
        sender, _ = await start_linking(client)
        body = await chat(client, sender, new_phone())
    assert "pour le moment" in said(body)
    assert len(fake_twilio.messages) == limit
    # A refused code counts against no budget: the hospital's counts only the codes sent.
    async with db.session_scope() as session:
        spent = await session.scalar(select(VerificationBudget.used).where(VerificationBudget.scope == "hospital_hour"))
    assert spent == limit
    # Another address, a patient at home, is not stopped by the script.
    phone = new_phone()
    elsewhere = web_session()
    body = await chat_from("198.51.100.7", elsewhere, "je veux relier mon numero")
    await identity.expect_phone(body["conversation_id"])
    await chat_from("198.51.100.7", elsewhere, phone)
    assert len(fake_twilio.to(phone)) == 1


async def test_a_client_address_has_a_budget_per_day_too(client, fake_engine, fake_twilio, monkeypatch):
    limits = verification_settings()
    start = outbox.clock()
    for hour in range(limits.client_day // limits.client_hour + 1):
        later = start + timedelta(hours=hour)
        monkeypatch.setattr(outbox, "clock", lambda later=later: later)
        for _ in range(limits.client_hour):
            sender, _ = await start_linking(client)
            await chat(client, sender, new_phone())
    assert len(fake_twilio.messages) == limits.client_day


async def test_the_hospital_budget_warns_then_stops(client, fake_engine, fake_twilio, monkeypatch, caplog):
    monkeypatch.setenv("PHONE_CODES_PER_HOUR", "5")
    reset_settings()
    phones = [new_phone() for _ in range(6)]
    budgets = []
    for index, phone in enumerate(phones):
        address, sender = f"203.0.113.{index + 1}", web_session()
        body = await chat_from(address, sender, "je veux relier mon numero")
        await identity.expect_phone(body["conversation_id"])
        body = await chat_from(address, sender, phone)
        budgets.append((await client.get("/health")).json()["sms_budget"])
    assert budgets == ["ok", "ok", "ok", "near", "exhausted", "exhausted"]
    assert "pour le moment" in said(body) and fake_twilio.to(phones[-1]) == []
    warnings = [r.getMessage() for r in caplog.records if "budget" in r.getMessage()]
    assert any("near" in line for line in warnings) and any("exhausted" in line for line in warnings)
    assert not any(phone[3:] in record.getMessage() for record in caplog.records for phone in phones)


async def test_ten_requests_at_once_for_one_number_send_at_most_the_limit(client, fake_engine, fake_twilio):
    phone = new_phone()
    senders = [(await start_linking(client))[0] for _ in range(10)]
    bodies = await asyncio.gather(*(chat(client, sender, phone) for sender in senders))
    limit = verification_settings().per_number_hour
    assert sum("code par SMS" in said(body) for body in bodies) == limit
    # Codes to one number leave one at a time: count those enqueued, delivered or not yet.
    sms = await conversation_of("sms", phone)
    async with db.session_scope() as session:
        codes = await session.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.conversation_id == sms.id))
    assert codes == limit


async def test_thirty_wrong_codes_at_once_are_checked_at_most_five_times(client, fake_engine, fake_twilio,
                                                                         monkeypatch):
    phone = new_phone()
    sender, conversation_id = await start_linking(client)
    await chat(client, sender, phone)
    code = code_in(fake_twilio.to(phone))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    checks = []
    real_hash = identity._hash

    def counted(salt: str, typed: str) -> str:
        checks.append(typed)
        return real_hash(salt, typed)

    monkeypatch.setattr(identity, "_hash", counted)
    bodies = await asyncio.gather(*(chat(client, sender, wrong) for _ in range(30)))
    assert len(checks) == identity.MAX_ATTEMPTS
    assert sum("essai(s)" in said(body) for body in bodies) == identity.MAX_ATTEMPTS - 1
    async with db.session_scope() as session:
        row = await session.scalar(select(PhoneVerification).where(PhoneVerification.conversation_id == conversation_id))
    assert (row.status, row.attempts) == ("locked", identity.MAX_ATTEMPTS)
