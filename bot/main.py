"""The back office's FastAPI application: each domain's router, then each configured channel's."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bot.conversation import engine
from bot.conversation import router as chat_router
from bot.core import db, logs
from bot.core.startup import settle_heap
from bot.messaging import delivery, engine_router
from bot.messaging import router as outbox_router
from bot.messaging.channels import load_channels
from bot.ops import health
from bot.triage import router as triage_router

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
    logs.install()  # before any request: a failed write's traceback must not print the patient's words
    app = FastAPI(title="Parcours back office", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    for router in (chat_router.router, health.router, engine_router.router, outbox_router.router, triage_router.router):
        app.include_router(router)
    for channel in load_channels():  # web, Telegram, SMS: each connector brings its own routes
        if channel.router is not None:
            app.include_router(channel.router)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        # Pydantic's messages are clear; the echoed input could hold health data, so it is left out.
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]} for e in error.errors()
        ]
        return JSONResponse({"detail": "invalid request", "errors": problems}, status_code=422)

    _document_invalid_requests(app)
    return app


# What `validation_error` answers, in place of FastAPI's default 422 body in the OpenAPI.
INVALID_REQUEST = {
    "title": "InvalidRequest",
    "type": "object",
    "required": ["detail", "errors"],
    "properties": {
        "detail": {"type": "string", "const": "invalid request"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "problem"],
            "properties": {"field": {"type": "string"}, "problem": {"type": "string"}},
        }},
    },
}


def _document_invalid_requests(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = INVALID_REQUEST
                schemas.pop("ValidationError", None)
        return generate()

    app.openapi = openapi  # type: ignore[method-assign]
