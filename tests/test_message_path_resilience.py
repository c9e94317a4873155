"""The message path when the engine is slow, frozen or away: the emergency answer does not wait for
it, the engine learns afterwards what the back office told the patient, and a burst of messages in
one conversation is answered in order, one engine turn at a time."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.conversation.message_path import handle_incoming
from bot.conversation.turns import busy_conversations
from tests.fakes import FakeEngine

RED_FLAG = "douleur dans la poitrine qui serre et je transpire"


@pytest.fixture
async def fake_engine(monkeypatch, migrated_database) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr("bot.conversation.engine.send_to_engine", fake.send)
    # Screening and data files load on first use: warm them up so that timings measure the path.
    await handle_incoming("web", "warm-up", RED_FLAG)
    fake.received.clear()
    return fake


async def bounded(turn):
    """A frozen engine must not freeze the test: what should take a second fails after five."""
    return await asyncio.wait_for(turn, 5)


def texts_for(fake: FakeEngine, conversation_id: str) -> list[str]:
    return [item["text"] for item in fake.received if item["sender"] == conversation_id]


async def test_a_red_flag_is_answered_within_a_second_when_the_engine_is_frozen(fake_engine):
    fake_engine.hang = True
    started = time.perf_counter()
    turn = await bounded(handle_incoming("web", "frozen-1", RED_FLAG))
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, elapsed
    assert turn.red_flags == ["chest_pain_cardiac"]
    assert "15" in turn.replies[0].text and "echo" not in turn.replies[0].text
    assert fake_engine.cancelled == 1  # the frozen call was abandoned, not left running


async def test_a_red_flag_does_not_wait_behind_a_slow_turn_of_the_same_conversation(fake_engine):
    fake_engine.delay = 3.0
    first = asyncio.ensure_future(handle_incoming("web", "slow-1", "horaires de la radiologie"))
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    turn = await bounded(handle_incoming("web", "slow-1", RED_FLAG))
    assert time.perf_counter() - started < 1.0
    assert "15" in turn.replies[0].text
    assert (await first).replies[0].text.startswith("echo:")


@pytest.mark.parametrize("outage", ["down", "frozen"])
async def test_after_an_outage_the_engine_first_hears_of_the_emergency_it_missed(fake_engine, outage):
    sender = f"outage-{outage}"
    conversation_id = (await handle_incoming("web", sender, "j'ai mal au ventre depuis hier")).conversation_id
    setattr(fake_engine, "down" if outage == "down" else "hang", True)
    answered = await bounded(handle_incoming("web", sender, RED_FLAG))
    assert "15" in answered.replies[0].text
    # Away on the next message (the frozen engine is being restarted): the patient is told to try
    # again, and the emergency is still owed to the engine.
    fake_engine.hang, fake_engine.down = False, True
    await bounded(handle_incoming("web", sender, "oui"))
    fake_engine.down = fake_engine.hang = False
    fake_engine.received.clear()

    turn = await handle_incoming("web", sender, "oui")
    told, then = texts_for(fake_engine, conversation_id)
    assert told.startswith('/emergency{"red_flags": ["chest_pain_cardiac"]')
    assert then == "oui"
    assert [reply.text for reply in turn.replies] == ["echo: oui"]  # the replay's own replies are not shown
    await handle_incoming("web", sender, "merci")
    assert texts_for(fake_engine, conversation_id)[2:] == ["merci"]  # told once


async def test_an_emergency_the_engine_answered_itself_is_not_told_again(fake_engine):
    conversation_id = (await handle_incoming("web", "no-outage", RED_FLAG)).conversation_id
    await handle_incoming("web", "no-outage", "oui")
    assert texts_for(fake_engine, conversation_id)[1:] == ["oui"]


async def test_a_burst_in_one_conversation_is_answered_in_order_one_engine_turn_at_a_time(fake_engine):
    fake_engine.delay = 0.2
    messages = [f"question numéro {n} sur les horaires" for n in range(5)]
    started = time.perf_counter()
    turns = await asyncio.gather(*(handle_incoming("web", "burst-1", text) for text in messages))
    elapsed = time.perf_counter() - started
    assert fake_engine.max_concurrent == 1
    assert texts_for(fake_engine, turns[0].conversation_id) == messages
    assert [turn.replies[0].text for turn in turns] == [f"echo: {text}" for text in messages]
    assert elapsed < 5 * 0.2 + 0.8, elapsed
    assert busy_conversations() == 0  # an idle conversation's line is forgotten


async def test_bursts_in_different_conversations_do_not_wait_for_each_other(fake_engine):
    fake_engine.delay = 0.3
    started = time.perf_counter()
    await asyncio.gather(*(handle_incoming("web", f"parallel-{n}", "horaires de la radio") for n in range(4)))
    assert time.perf_counter() - started < 4 * 0.3


async def test_a_message_that_gives_up_its_place_does_not_block_the_line(fake_engine):
    fake_engine.delay = 0.2
    first = asyncio.ensure_future(handle_incoming("web", "gives-up", "horaires de la radio"))
    second = asyncio.ensure_future(handle_incoming("web", "gives-up", "et le scanner"))
    third = asyncio.ensure_future(handle_incoming("web", "gives-up", "et l'IRM"))
    await asyncio.sleep(0.05)
    second.cancel()  # the patient's connection dropped while the message waited its turn
    started = time.perf_counter()
    assert (await bounded(third)).replies[0].text == "echo: et l'IRM"
    assert time.perf_counter() - started < 1.0
    await first
