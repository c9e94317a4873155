"""Telegram's webhook: POST /webhooks/telegram, as registered with setWebhook(url, secret_token)."""

from __future__ import annotations

import hmac
import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bot.conversation.message_path import NotRecorded
from connectors.common import BodyTooLarge, read_body
from connectors.telegram import channel as telegram
from connectors.telegram.settings import telegram_settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["channels"])

MAX_BODY = 256 * 1024  # an update with a 4,096-character text and its entities is far below this


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


@router.post(
    "/webhooks/telegram", summary="Telegram updates (webhook mode)",
    responses={400: {"description": "Not a Telegram update"}, 403: {"description": "Wrong or missing secret token"},
               413: {"description": "Body too large"}, 503: {"description": "Telegram is not configured"}},
)
async def telegram_webhook(request: Request) -> JSONResponse:
    """Checks `X-Telegram-Bot-Api-Secret-Token`, then handles the update once per `update_id`.

    Anything Telegram may send gets a 200, even content the assistant cannot read (it answers "I can
    only read text"), so Telegram never retries; a redelivered update_id is acknowledged and skipped.
    """
    s = telegram_settings()
    if not s.configured:
        return _error(503, "Telegram is not configured: set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET")
    supplied = request.headers.get("x-telegram-bot-api-secret-token", "")
    if not supplied or not hmac.compare_digest(supplied.encode(), s.webhook_secret.encode()):
        return _error(403, "wrong secret token")
    try:
        data = json.loads(await read_body(request, MAX_BODY))
    except BodyTooLarge:
        return _error(413, "body too large")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "body is not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int) or isinstance(data["update_id"], bool):
        return _error(400, "not a Telegram update: update_id missing")
    try:
        update = telegram.parse_update(data)
    except ValueError:
        return _error(400, "not a Telegram update")
    try:
        outcome = await telegram.process_update(update)
    except NotRecorded:  # nothing was processed: a 5xx makes Telegram deliver the update again later
        return _error(503, "temporarily unable to record the update")
    except Exception as error:  # logged by kind; a 200 keeps Telegram from redelivering a poisonous update
        log.error("telegram update %s failed: %s", data["update_id"], type(error).__name__)
        outcome = "error"
    return JSONResponse({"ok": True, "outcome": outcome})
