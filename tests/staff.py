"""The headers of a caller holding the staff token (bot/core/auth.py)."""

from __future__ import annotations


def staff_headers() -> dict[str, str]:
    from bot.core.config import settings

    return {"Authorization": f"Bearer {settings().staff_token}"}
