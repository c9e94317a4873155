"""The SMS webhooks, in Twilio's format: incoming messages and delivery receipts."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from twilio.request_validator import RequestValidator

from bot.conversation.message_path import NotRecorded
from bot.messaging import outbox
from bot.messaging.schemas import MAX_ID
from connectors.common import BodyTooLarge, read_body
from connectors.sms import channel as sms
from connectors.sms.settings import sms_settings

log = logging.getLogger(__name__)
router = APIRouter(tags=["channels"])

MAX_BODY = 64 * 1024  # Twilio's form for a 1,600-character SMS is a few kilobytes
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_RESPONSES = {400: {"description": "Malformed form"}, 403: {"description": "Bad X-Twilio-Signature"},
              413: {"description": "Body too large"}, 415: {"description": "Not a form"},
              503: {"description": "SMS webhook not configured"}}


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


async def _signed_form(request: Request, url: str) -> dict[str, str] | JSONResponse:
    """The form fields, once the Twilio signature over the public URL and the fields is checked."""
    s = sms_settings()
    if not s.webhook_configured:
        return _error(503, "SMS webhook not configured: set TWILIO_AUTH_TOKEN and PARCOURS_PUBLIC_URL")
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return _error(415, "expected application/x-www-form-urlencoded")
    try:
        raw = (await read_body(request, MAX_BODY)).decode("utf-8")
    except BodyTooLarge:
        return _error(413, "body too large")
    except UnicodeDecodeError:
        return _error(400, "body is not UTF-8")
    form = dict(parse_qsl(raw, keep_blank_values=True))
    # Twilio signs the URL it called (query string included) as configured, not as we see it behind a proxy.
    signed_url = url + (f"?{request.url.query}" if request.url.query else "")
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not RequestValidator(s.auth_token).validate(signed_url, form, signature):
        return _error(403, "bad signature")
    return form


@router.post("/webhooks/sms", summary="Incoming SMS (Twilio format)", responses=_RESPONSES)
async def sms_webhook(request: Request) -> Response:
    """Form fields From, To, Body, MessageSid (NumMedia for MMS); answered with an empty TwiML
    <Response/>: the replies leave through the provider's API via the outbox. A redelivered
    MessageSid is acknowledged and skipped."""
    form = await _signed_form(request, sms_settings().webhook_url)
    if isinstance(form, JSONResponse):
        return form
    if not form.get("MessageSid") or not form.get("From"):
        return _error(400, "MessageSid and From are required")
    try:
        outcome = await sms.process_inbound(form)
    except NotRecorded:  # nothing was processed: Twilio reports the error and its fallback URL, if any, applies
        return _error(503, "temporarily unable to record the message")
    except Exception as error:  # logged by kind; Twilio does not retry, the patient's message is on record
        log.error("sms %s failed: %s", form["MessageSid"][:40], type(error).__name__)
        outcome = "error"
    return Response(EMPTY_TWIML, media_type="text/xml", headers={"X-Parcours-Outcome": outcome})


@router.post("/webhooks/sms/status", summary="SMS delivery receipts (Twilio StatusCallback)", responses=_RESPONSES)
async def sms_status(
    request: Request,
    row: int | None = Query(None, ge=1, le=MAX_ID, description="The outbox row, as we set it in the StatusCallback"),
) -> Response:
    """Form fields MessageSid, MessageStatus (ErrorCode when undelivered). A row whose outcome was
    unknown (interrupted mid-send) is settled: sent if Twilio has it, failed if it will not be delivered."""
    form = await _signed_form(request, sms_settings().status_url)  # the signature covers `row`
    if isinstance(form, JSONResponse):
        return form
    if not form.get("MessageSid") or not form.get("MessageStatus"):
        return _error(400, "MessageSid and MessageStatus are required")
    error = f"twilio delivery error {form['ErrorCode']}" if form.get("ErrorCode") else None
    await outbox.set_provider_status(sms.CHANNEL, form["MessageSid"], form["MessageStatus"], error, row_id=row,
                                     outcome=sms.receipt_outcome(form["MessageStatus"]))
    return Response(EMPTY_TWIML, media_type="text/xml")
