"""Every test run gets a fresh database of its own: SQLite by default, PostgreSQL when
TEST_DATABASE=postgresql (make test-app-pg, make test-integration). The environment is set before
any of the app's modules read it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from pathlib import Path

import pytest

_RUN_DIR = Path(tempfile.mkdtemp(prefix="parcours-test-"))
os.environ["PARCOURS_VAR"] = str(_RUN_DIR)
os.environ.setdefault("PARCOURS_GATEWAY_TOKEN", "test-token-" + uuid.uuid4().hex)

if os.environ.get("TEST_DATABASE") == "postgresql":
    from sqlalchemy.engine import make_url

    _admin_url = make_url(os.environ.get("TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    _test_db = f"parcours_test_{uuid.uuid4().hex[:12]}"
    os.environ["DATABASE_URL"] = _admin_url.set(database=_test_db).render_as_string(hide_password=False)
else:
    _admin_url = None
    _test_db = None
    os.environ["DATABASE_URL"] = f"sqlite:///{_RUN_DIR / 'parcours.db'}"


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(
        host=_admin_url.host, port=_admin_url.port or 5432, user=_admin_url.username or "postgres",
        password=_admin_url.password, database=_admin_url.database or "postgres",
    )
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def pytest_configure(config: pytest.Config) -> None:
    if _test_db:
        asyncio.run(_admin(f'CREATE DATABASE "{_test_db}"'))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _test_db:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{_test_db}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url() -> str:
    from bot.core.config import settings

    return settings().database_url


@pytest.fixture(scope="session")
async def migrated_database(database_url: str) -> str:
    """The schema as Alembic builds it in production."""
    from bot.ops.migrate import upgrade

    await asyncio.to_thread(upgrade)
    return database_url


@pytest.fixture(scope="session")
async def seeded_database(migrated_database: str) -> str:
    """The migrated schema with the demo hospital loaded."""
    from bot.core import db
    from bot.hospital.seed import seed

    async with db.session_scope() as session:
        await seed(session)
    return migrated_database
