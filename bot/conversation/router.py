"""The message path as an HTTP endpoint: what every channel, the web page and integrations use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, HTTPException, Request, Security
from fastapi.security import HTTPAuthorizationCredentials

from bot.conversation.client import client_address
from bot.conversation.message_path import NotRecorded, handle_incoming
from bot.conversation.schemas import ChatRequest, ChatResponse, ReplyOut
from bot.core.auth import bearer, is_staff

router = APIRouter(prefix="/api", tags=["chat"])
# Patients on these channels come in through the providers' signed webhooks; here, writing as a
# phone number or a Telegram chat would put words in that patient's transcript.
SIGNED_CHANNELS = frozenset({"telegram", "sms"})
# Channels whose sender ids the back office issues itself (the web chat's signed sessions): a
# client-chosen id would open, or read, someone else's conversation. The channel's package
# registers the check (bot/ never imports a connector); such a channel without one is refused,
# not left open.
ISSUED_CHANNELS = frozenset({"web"})
SenderCheck = Callable[[str], Awaitable[str | None]]  # the problem's code, or None when the id is good
_sender_checks: dict[str, SenderCheck] = {}


def register_sender_check(channel: str, check: SenderCheck) -> None:
    _sender_checks[channel] = check


@router.post("/chat", response_model=ChatResponse, summary="Send a patient message, get the assistant's replies",
             responses={403: {"description": "telegram or sms without the staff token"},
                        401: {"description": "web: a session id the server did not issue, or expired; "
                                                "get a new one from POST /api/web/sessions"},
                        503: {"description": "The message could not be recorded (nothing was kept): send it again"}})
async def chat(
    request: ChatRequest, http: Request, credentials: HTTPAuthorizationCredentials | None = Security(bearer),
) -> ChatResponse:
    """Records the message, screens it for red flags, asks the engine and returns its replies.

    The patient's message is stored before the engine is asked: if the engine is unavailable the
    reply is a polite "try again" with the emergency number, and nothing is lost. `web` and `api`
    are open (the web chat uses them; `web` senders are the sessions `POST /api/web/sessions`
    issues); `telegram` and `sms` need the staff token.
    """
    if request.channel in SIGNED_CHANNELS and not is_staff(credentials):
        raise HTTPException(403, f"{request.channel} messages arrive through the {request.channel} webhook; "
                                 "posting them here needs the staff token")
    if request.channel in ISSUED_CHANNELS:
        check = _sender_checks.get(request.channel)
        problem = "channel_disabled" if check is None else await check(request.sender)
        if problem is not None:
            raise HTTPException(401, {"code": problem, "message": "this web session was not issued by this server "
                                      "or has expired: get a new one from POST /api/web/sessions"})
    client_address.set(http.client.host if http.client else None)
    try:
        turn = await handle_incoming(request.channel, request.sender, request.text, request.metadata)
    except NotRecorded:
        raise HTTPException(503, "the message could not be recorded and nothing was kept: please send it again") from None
    return ChatResponse(
        conversation_id=turn.conversation_id,
        language=turn.language,
        replies=[ReplyOut.model_validate({"text": r.text, "buttons": r.buttons, "custom": r.custom})
                 for r in turn.replies],
    )
