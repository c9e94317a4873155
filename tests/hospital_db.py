"""Throwaway databases for the seed and directory tests, independent of the app's own test database.

SQLite in a temporary directory by default. PostgreSQL when TEST_DATABASE_URL points at a server
(e.g. postgresql://postgres@127.0.0.1:5432/postgres), or when the Makefile's TEST_DATABASE=postgresql
is set (TEST_PG_URL then names the server): a database is created for each use and dropped after.

Test modules load the fixtures with `pytest_plugins = ("tests.hospital_db",)`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from bot.core.db import make_engine
from bot.core.tables import Base
from bot.hospital.directory import Directory, load_directory
from bot.hospital.seed import DEFAULT_PATH, SeedReport, seed

Sessions = async_sessionmaker[AsyncSession]


def postgres_server() -> URL | None:
    """The PostgreSQL server to create test databases on, if the environment asks for one."""
    if url := os.environ.get("TEST_DATABASE_URL"):
        parsed = make_url(url)
        return parsed if parsed.get_backend_name() == "postgresql" else None
    if os.environ.get("TEST_DATABASE") == "postgresql":
        return make_url(os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    return None


def backend_name() -> str:
    return "postgresql" if postgres_server() else "sqlite"


async def _on_server(server: URL, sql: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction, hence AUTOCOMMIT.
    engine = create_async_engine(
        server.set(drivername="postgresql+asyncpg"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


@asynccontextmanager
async def throwaway_database(directory: Path) -> AsyncIterator[Sessions]:
    """An empty schema (the models' tables) in a database nobody else uses."""
    server = postgres_server()
    name = f"parcours_hospital_{uuid.uuid4().hex[:12]}"
    if server is None:
        url = f"sqlite+aiosqlite:///{directory / 'hospital.db'}"
    else:
        await _on_server(server, f'CREATE DATABASE "{name}"')
        url = server.set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()
        if server is not None:
            await _on_server(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def seed_demo(sessions: Sessions, path: Path | None = None, *, prune: bool = False) -> SeedReport:
    """Seed in its own committed transaction, as `python -m bot seed` does."""
    async with sessions() as session:
        report = await seed(session, path or DEFAULT_PATH, prune=prune)
        await session.commit()
    return report


@pytest.fixture
def seed_hospital():
    """`await seed_hospital(sessions, path=None, prune=False)`: seed and commit."""
    return seed_demo


@pytest_asyncio.fixture(loop_scope="session")
async def hospital_db(tmp_path: Path) -> AsyncIterator[Sessions]:
    """A fresh, empty database for one test."""
    async with throwaway_database(tmp_path) as sessions:
        yield sessions


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def demo_directory(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Directory]:
    """The demo hospital, seeded once per module and read back as a directory snapshot."""
    async with throwaway_database(tmp_path_factory.mktemp("demo-hospital")) as sessions:
        await seed_demo(sessions)
        async with sessions() as session:
            directory = await load_directory(session)
        yield directory
