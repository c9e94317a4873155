from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from bot import engine
from bot.api.schemas import Health
from bot.db import session_scope

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Is the stack up?")
async def health() -> Health:
    try:
        async with session_scope() as session:
            await session.execute(text("SELECT 1"))
        database = "ok"
    except Exception:
        database = "down"
    rasa, actions = await engine.engine_status(), await engine.action_server_status()
    status = "ok" if (database, rasa, actions) == ("ok", "ok", "ok") else "degraded"
    return Health(status=status, database=database, engine=rasa, action_server=actions)
