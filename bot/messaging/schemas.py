"""The outbox API's items, and what the engine posts to the back office (`/internal/rasa/outbound`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["pending", "sending", "sent", "failed", "unknown", "cancelled"]
# PostgreSQL's integer: a larger id is refused at the boundary instead of overflowing in the query.
MAX_ID = 2**31 - 1


class OutboxItem(BaseModel):
    """One message on its way to a patient (an SMS part or a Telegram message). The text is in the transcript."""

    id: int
    conversation_id: str
    channel: str
    kind: Literal["reply", "proactive", "trigger"] = Field(
        description="reply: answer to the patient's message; proactive: sent first; trigger: starts an engine turn")
    idempotency_key: str
    urgent: bool = Field(description="Leaves even during quiet hours")
    status: Status = Field(description=(
        "sent: the provider accepted it; failed: it will not go; cancelled: the patient opted out; unknown: "
        "interrupted while sending, the provider may have it: never resent, settled by the provider's "
        "delivery receipt (SMS), left for the staff to check otherwise (Telegram)"))
    attempts: int
    next_attempt_at: datetime
    last_error: str | None = Field(description="Error kind and provider code; never message text")
    provider_id: str | None
    provider_status: str | None = Field(description="The provider's delivery receipt (SMS: delivered, undelivered…)")
    message_id: int | None = Field(description="The transcript message this delivers, for proactive messages")
    created_at: datetime
    sent_at: datetime | None


class OutboundMessage(BaseModel):
    """A message the engine sends without a patient message (trigger_intent), via the gateway."""

    model_config = ConfigDict(extra="allow")

    recipient_id: str
    text: str | None = None
    buttons: list[dict[str, Any]] | None = None
    custom: dict[str, Any] | None = None
