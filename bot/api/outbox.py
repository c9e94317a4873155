"""Delivery status of the messages Parcours sends: what left, what waits, what failed and why."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from bot import outbox
from bot.api.auth import require_staff

router = APIRouter(prefix="/api/outbox", tags=["outbox"], dependencies=[Depends(require_staff)],
                   responses={401: {"description": "No or wrong staff token"}})

Status = Literal["pending", "sending", "sent", "failed", "cancelled"]


class OutboxItem(BaseModel):
    """One message on its way to a patient (an SMS part or a Telegram message). The text is in the transcript."""

    id: int
    conversation_id: str
    channel: str
    kind: Literal["reply", "proactive", "trigger"] = Field(
        description="reply: answer to the patient's message; proactive: sent first; trigger: starts an engine turn")
    idempotency_key: str
    urgent: bool = Field(description="Leaves even during quiet hours")
    status: Status = Field(description="cancelled: the patient opted out")
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = Field(description="Error kind and provider code; never message text")
    provider_id: str | None
    provider_status: str | None = Field(description="The provider's delivery receipt (SMS: delivered, undelivered…)")
    message_id: int | None = Field(description="The transcript message this delivers, for proactive messages")
    created_at: datetime
    sent_at: datetime | None


def _item(entry: outbox.OutboxEntry) -> OutboxItem:
    return OutboxItem(**entry.__dict__)


@router.get("", response_model=list[OutboxItem], summary="Messages of a conversation, newest first")
async def list_outbox(
    conversation_id: str | None = Query(None, max_length=32),
    status: Status | None = None,
    limit: int = Query(100, ge=1, le=500),
) -> list[OutboxItem]:
    return [_item(entry) for entry in await outbox.entries_for(conversation_id, status, limit)]


@router.get("/{item_id}", response_model=OutboxItem, responses={404: {"description": "No such message"}})
async def get_outbox_item(item_id: int) -> OutboxItem:
    entry = await outbox.get_entry(item_id)
    if entry is None:
        raise HTTPException(404, "no such outbox message")
    return _item(entry)
