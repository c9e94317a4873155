"""Delivery status of the messages Parcours sends: what left, what waits, what failed and why."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from bot.core.auth import require_staff
from bot.messaging import outbox
from bot.messaging.schemas import MAX_ID, OutboxItem, Status

router = APIRouter(prefix="/api/outbox", tags=["outbox"], dependencies=[Depends(require_staff)],
                   responses={401: {"description": "No or wrong staff token"}})


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
async def get_outbox_item(item_id: int = Path(ge=1, le=MAX_ID)) -> OutboxItem:
    entry = await outbox.get_entry(item_id)
    if entry is None:
        raise HTTPException(404, "no such outbox message")
    return _item(entry)
