"""The back office's FastAPI application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot import db, delivery, engine
from bot.api import chat, health, internal, triage, web
from bot.api import outbox as outbox_api, sms as sms_api, telegram as telegram_api
from bot.startup import settle_heap

log = logging.getLogger(__name__)

DESCRIPTION = """
Parcours' back office: the message path every channel uses, the triage engine and the hospital's
practical information. Patient messages are health data: they are stored, never logged.

Staff routes (delivery status under `/api/outbox`, and `/api/chat` as an `sms` or `telegram`
sender) need the staff token as `Authorization: Bearer <token>`: `PARCOURS_STAFF_TOKEN`, or the
file `var/staff.token` made at first start.
"""


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    _warm_up()
    settle_heap()
    await delivery.start()  # the outbox worker: retries, deferred and proactive messages
    yield
    await delivery.stop()
    await engine.close()
    await db.dispose()


def _warm_up() -> None:
    """Load the clinical NLP pipelines before the first patient waits for them."""
    from bot.triage import warm_up

    warm_up()


def create_app() -> FastAPI:
    app = FastAPI(title="Parcours back office", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.include_router(chat.router)
    app.include_router(health.router)
    app.include_router(internal.router)
    app.include_router(web.router)
    app.include_router(telegram_api.router)
    app.include_router(sms_api.router)
    app.include_router(outbox_api.router)
    app.include_router(triage.router)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        # Pydantic's messages are clear; the echoed input could hold health data, so it is left out.
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]} for e in error.errors()
        ]
        return JSONResponse({"detail": "invalid request", "errors": problems}, status_code=422)

    return app
