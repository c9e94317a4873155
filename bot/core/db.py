"""Async engine and sessions. One engine per process, created lazily from the settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, Result, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.core.config import settings

_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the action server read while the back office writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (an ORM session types its result as a plain Result)."""
    return cast(CursorResult[Any], result).rowcount


def _begin_before_savepoint(connection: Any, _name: str) -> None:
    # The driver begins a transaction lazily, before the first write, and not before a SAVEPOINT:
    # a savepoint opened first would then be the outermost transaction, and releasing it would
    # commit the whole unit of work early. Begin it here. (Beginning every transaction up front
    # instead would hold a read snapshot that a later write cannot upgrade when another writer got
    # in between: "database is locked" at once, busy_timeout or not.)
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN")


def make_engine(url: str) -> AsyncEngine:
    # Statement parameters hold patient messages and phone numbers: never in an error's text (bot/core/logs.py).
    if url.startswith("sqlite"):
        from pathlib import Path

        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "savepoint", _begin_before_savepoint)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, hide_parameters=True)


def engine() -> AsyncEngine:
    global _engine, _sessionmaker
    if _engine is None:
        _engine = make_engine(settings().database_url)
        _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False)
    return _engine


def sessionmaker() -> async_sessionmaker[AsyncSession]:
    engine()
    assert _sessionmaker is not None
    return _sessionmaker


@asynccontextmanager
async def session_scope() -> AsyncIterator[AsyncSession]:
    """A unit of work: committed when the block succeeds, rolled back otherwise."""
    async with sessionmaker()() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def dispose() -> None:
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _sessionmaker = None
