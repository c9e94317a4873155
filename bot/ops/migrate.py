"""Database schema upgrades (Alembic), and the schema Rasa's tracker store lives in on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from bot.core.config import settings
from bot.core.db import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
RASA_SCHEMA = "rasa"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url or settings().database_url
    return config


async def _ensure_rasa_schema(database_url: str) -> None:
    # Rasa's SQLTrackerStore refuses to start when POSTGRESQL_SCHEMA names a schema that is missing.
    engine = make_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{RASA_SCHEMA}"'))
    await engine.dispose()


def upgrade(database_url: str | None = None) -> None:
    """Bring the database to the latest schema. Runs Alembic in a worker thread: its env is async."""
    url = database_url or settings().database_url
    if url.startswith("postgresql"):
        asyncio.run(_ensure_rasa_schema(url))
    command.upgrade(alembic_config(url), "head")


def revision(message: str) -> None:
    command.revision(alembic_config(), message=message, autogenerate=True)
