"""The outbox and what channels remember: per-conversation channel state, long Telegram button payloads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.core.models import Base, utcnow


class OutboxMessage(Base):
    """One message on its way to a patient's channel: written first, then delivered by a worker.

    A row is one provider call (an SMS part, a Telegram message), so a retry never resends a part
    that already went out. `idempotency_key` is unique: asking twice to send the same thing is a no-op.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))  # reply (to a patient message), proactive, trigger (engine turn)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # text, buttons, custom as the channel sends them
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)  # ignores quiet hours
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sending, sent, failed, cancelled, unknown (interrupted mid-send)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)  # error kind and code, never text
    provider_id: Mapped[str | None] = mapped_column(String(200), default=None)
    provider_status: Mapped[str | None] = mapped_column(String(40), default=None)  # delivery receipts (SMS)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class ChannelState(Base):
    """What a channel remembers about one conversation: SMS numbered options and opt-out."""

    __tablename__ = "channel_states"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    options: Mapped[list] = mapped_column(JSON, default=list)  # the buttons last offered, in their numbered order
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)  # no proactive messages (SMS STOP)
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CallbackToken(Base):
    """A Telegram button payload too long for its 64-byte callback_data, kept here under a short token."""

    __tablename__ = "callback_tokens"

    token: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
