"""No patient text or phone number in the logs when a database write fails (bot/core/logs.py)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import httpx
import pytest
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import create_async_engine

from bot.conversation import message_path
from bot.core import logs
from bot.main import create_app
from tests.fakes import FakeEngine

PATIENT_TEXT = "ma fille saigne beaucoup"
PHONE = "0612345678"


def printed(records: list[logging.LogRecord]) -> str:
    """Everything the records would print, tracebacks included."""
    return "\n".join(logging.Formatter().format(record) for record in records)


def _as_uvicorn(app):
    # What uvicorn does with an exception that escapes the application (protocols/http/*_impl.py).
    async def served(scope, receive, send):
        try:
            await app(scope, receive, send)
        except BaseException as error:
            logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=error)
            raise

    return served


@pytest.fixture
def fake_engine(monkeypatch) -> FakeEngine:
    fake = FakeEngine()
    monkeypatch.setattr("bot.conversation.engine.send_to_engine", fake.send)
    return fake


async def test_a_failed_insert_on_api_chat_logs_neither_the_text_nor_the_number(
    migrated_database, fake_engine, monkeypatch, caplog
):
    record_outgoing = message_path.record_outgoing

    async def into_no_conversation(session, conversation, reply, **kwargs):
        # A real INSERT that the database refuses (foreign key), its parameters holding the reply,
        # which quotes the patient (the fake engine echoes).
        return await record_outgoing(session, SimpleNamespace(id="no-such-conversation", language="fr"), reply,
                                     **kwargs)

    monkeypatch.setattr(message_path, "record_outgoing", into_no_conversation)
    app = create_app()
    transport = httpx.ASGITransport(app=_as_uvicorn(app), raise_app_exceptions=False)
    caplog.set_level(logging.DEBUG)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/api/chat", json={"sender": "p-logs", "text": f"{PATIENT_TEXT} {PHONE}", "channel": "api"})
    assert response.status_code == 500
    assert any(r.exc_info and "IntegrityError" in printed([r]) for r in caplog.records)  # the failure was logged
    output = printed(caplog.records)
    assert PATIENT_TEXT not in output and PHONE not in output


async def test_statement_parameters_are_redacted_whatever_engine_raised_them(caplog):
    logs.install()
    engine = create_async_engine("sqlite+aiosqlite://")  # made elsewhere: parameters not hidden
    try:
        async with engine.connect() as connection:
            await connection.execute(sql("CREATE TABLE t (x TEXT NOT NULL UNIQUE)"))
            await connection.execute(sql("INSERT INTO t VALUES (:x)"), {"x": PHONE})
            try:
                await connection.execute(sql("INSERT INTO t VALUES (:x)"), {"x": PHONE})
            except IntegrityError as error:
                try:
                    raise RuntimeError("turn failed") from error  # as the message path wraps it
                except RuntimeError:
                    logging.getLogger("connectors.web.channel").exception("web chat turn failed")
    finally:
        await engine.dispose()
    output = printed(caplog.records)
    assert "IntegrityError" in output and "turn failed" in output
    assert PHONE not in output


def test_the_engines_echo_logs_statements_without_their_parameters(caplog):
    logs.install()
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine.Engine")
    logging.getLogger("sqlalchemy.engine.Engine").info("[%s] %r", "generated in 0.001s", (PATIENT_TEXT, PHONE))
    output = printed(caplog.records)
    assert "generated in 0.001s" in output and PHONE not in output and PATIENT_TEXT not in output


def test_values_echoed_by_drivers_and_validators_are_redacted():
    for error in (
        StatementError("(asyncpg DataError) invalid input for query argument $2: 'ma fille saigne beaucoup'",
                       "INSERT INTO messages VALUES ($1, $2)", (1, PATIENT_TEXT), None),
        ValueError(f"1 validation error\ntext\n  Input should be short [type=x, input_value='{PATIENT_TEXT}', "
                   "input_type=str]"),
    ):
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), (type(error), error, None))
        assert PATIENT_TEXT not in logging.Formatter().format(logs.redact(record))


def test_installing_twice_redacts_once():
    logs.install()
    factory = logging.getLogRecordFactory()
    logs.install()
    assert logging.getLogRecordFactory() is factory
