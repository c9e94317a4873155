"""Endpoints only the engine calls, protected by the gateway's shared token."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Header, HTTPException, status

from bot.core.config import settings
from bot.messaging.delivery import deliver_from_engine
from bot.messaging.schemas import OutboundMessage

router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)


async def engine_only(authorization: str = Header("")) -> None:
    supplied = authorization.removeprefix("Bearer ").strip()
    if not hmac.compare_digest(supplied.encode(), settings().gateway_token.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown caller")


@router.post("/rasa/outbound", dependencies=[Depends(engine_only)], status_code=status.HTTP_202_ACCEPTED)
async def outbound(message: OutboundMessage) -> dict[str, str]:
    """A reply the engine produced without a patient message (trigger_intent)."""
    delivered = await deliver_from_engine(message.recipient_id, message.model_dump(exclude_none=True))
    if not delivered:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown conversation")
    return {"status": "accepted"}
