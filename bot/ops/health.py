"""`GET /health`: the database, the engine and the action server, as a load balancer or an operator sees them."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from bot.conversation import engine, identity
from bot.core.db import session_scope

SmsBudget = Literal["ok", "near", "exhausted", "unknown"]


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    engine: str
    action_server: str
    # The hospital's budget for verification SMS: "near" warns operators of pumping before codes stop.
    sms_budget: SmsBudget


router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, summary="Is the stack up?")
async def health() -> Health:
    database = "down"
    sms_budget: SmsBudget = "unknown"
    try:
        async with session_scope() as session:
            await session.execute(text("SELECT 1"))
            database = "ok"
            sms_budget = await identity.budget_status(session)
    except Exception:
        pass  # what failed stays "down" or "unknown"
    rasa, actions = await engine.engine_status(), await engine.action_server_status()
    status: Literal["ok", "degraded"] = "ok" if (database, rasa, actions) == ("ok", "ok", "ok") else "degraded"
    return Health(status=status, database=database, engine=rasa, action_server=actions, sms_budget=sms_budget)
