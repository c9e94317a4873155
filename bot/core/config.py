"""Settings read from the environment, with defaults that make `make run` work on a laptop."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlalchemy.engine import make_url

from bot.core.language import default_language, supported_languages

ROOT = Path(__file__).resolve().parents[2]
VAR = Path(os.environ.get("PARCOURS_VAR", ROOT / "var"))

_cached: list[Callable[..., object]] = []


def cached_settings[T](read: Callable[[], T]) -> Callable[[], T]:
    """Settings are read from the environment once per process; `reset_settings` forgets them all."""
    cached = lru_cache(read)
    _cached.append(cached)
    return cached


def reset_settings() -> None:
    """Forget every cached settings object (tests change the environment)."""
    for cached in _cached:
        cached.cache_clear()  # type: ignore[attr-defined]


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _async_url(url: str) -> str:
    """Accept the plain URLs an IT team writes and pick the async driver ourselves."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
    backend = parsed.get_backend_name()
    if backend not in driver:
        raise ValueError(f"DATABASE_URL must be SQLite or PostgreSQL, not {backend!r}")
    return parsed.set(drivername=driver[backend]).render_as_string(hide_password=False)


def _secret(variable: str, filename: str) -> str:
    """A secret from the environment, or generated once and kept in var/ (readable by its owner
    only) so that separately started processes agree on it without configuration."""
    if token := os.environ.get(variable):
        return token
    path = VAR / filename
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass(frozen=True)
class Settings:
    database_url: str
    rasa_url: str
    action_server_url: str
    backoffice_url: str
    backoffice_host: str
    backoffice_port: int
    rasa_port: int
    action_port: int
    rasa_timeout: float
    gateway_token: str = field(repr=False)  # between the back office and the Rasa gateway channel
    staff_token: str = field(repr=False)  # hospital staff and systems calling the back-office API
    web_session_key: str = field(repr=False)  # signs the web chat's session ids (connectors/web)
    default_language: str  # of a new conversation; the hospital's own language unless set

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")


def _language(value: str) -> str:
    if not value:
        return default_language()
    if value not in supported_languages():
        raise ValueError(f"PARCOURS_DEFAULT_LANGUAGE must be one of {supported_languages()}, not {value!r}")
    return value


@cached_settings
def settings() -> Settings:
    rasa_port = int(env("RASA_PORT", "5005"))
    action_port = int(env("ACTION_PORT", "5055"))
    port = int(env("PARCOURS_PORT", "8000"))
    host = env("PARCOURS_HOST", "127.0.0.1")
    default_db = f"sqlite:///{VAR / 'parcours.db'}"
    return Settings(
        database_url=_async_url(env("DATABASE_URL", default_db)),
        rasa_url=env("RASA_URL", f"http://127.0.0.1:{rasa_port}"),
        action_server_url=env("ACTION_SERVER_URL", f"http://127.0.0.1:{action_port}/webhook"),
        backoffice_url=env("PARCOURS_URL", f"http://127.0.0.1:{port}"),
        backoffice_host=host,
        backoffice_port=port,
        rasa_port=rasa_port,
        action_port=action_port,
        rasa_timeout=float(env("RASA_TIMEOUT", "20")),
        gateway_token=_secret("PARCOURS_GATEWAY_TOKEN", "gateway.token"),
        staff_token=_secret("PARCOURS_STAFF_TOKEN", "staff.token"),
        web_session_key=_secret("PARCOURS_WEB_SESSION_KEY", "web-session.key"),
        default_language=_language(env("PARCOURS_DEFAULT_LANGUAGE")),
    )
