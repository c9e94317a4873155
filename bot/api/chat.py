"""The message path as an HTTP endpoint: what every channel, the web page and integrations use."""

from __future__ import annotations

from fastapi import APIRouter

from bot.api.schemas import ChatRequest, ChatResponse, ReplyOut
from bot.chat import handle_incoming

router = APIRouter(prefix="/api", tags=["chat"])


@router.post("/chat", response_model=ChatResponse, summary="Send a patient message, get the assistant's replies")
async def chat(request: ChatRequest) -> ChatResponse:
    """Records the message, screens it for red flags, asks the engine and returns its replies.

    The patient's message is stored before the engine is asked: if the engine is unavailable the
    reply is a polite "try again" with the emergency number, and nothing is lost.
    """
    turn = await handle_incoming(request.channel, request.sender, request.text, request.metadata)
    return ChatResponse(
        conversation_id=turn.conversation_id,
        language=turn.language,
        replies=[ReplyOut(text=r.text, buttons=r.buttons, custom=r.custom) for r in turn.replies],
    )
