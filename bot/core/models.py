"""What every domain's tables share: the declarative base, ids and UTC timestamps.

Texts a patient reads exist in several languages, so they are stored as {"fr": ..., "en": ...}
maps (`Localized`) rather than one column per language: adding a language adds no migration.
Each domain declares its own tables in its `models.py`; `bot.core.tables` imports them all, so
that the metadata (Alembic, `create_all` in tests) and string relationships see every table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import JSON
from sqlalchemy.orm import DeclarativeBase

Localized = dict[str, str]


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, str]: JSON, dict: JSON, list: JSON, list[str]: JSON}
