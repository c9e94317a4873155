"""Patients, their conversations (one per channel) and the canonical transcript; phone verifications
that link a patient's channels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.core.language import default_language
from bot.core.models import Base, new_id, utcnow


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    language: Mapped[str] = mapped_column(String(5), default=default_language)
    phone: Mapped[str | None] = mapped_column(String(40), default=None, index=True)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)


class Conversation(Base):
    """One patient on one channel. The same person on two channels is two conversations until verified."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "sender", name="uq_conversation_channel_sender"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(20))
    sender: Mapped[str] = mapped_column(String(200))  # the channel's own id: chat id, phone, browser session
    patient_id: Mapped[str | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"), default=None)
    language: Mapped[str] = mapped_column(String(5), default=default_language)
    handled_by: Mapped[str] = mapped_column(String(20), default="bot")  # "bot" or "nurse"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )


class Message(Base):
    """The canonical transcript: every message in and out, whoever wrote it (patient, bot, nurse, system)."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" or "out"
    author: Mapped[str] = mapped_column(String(20))  # patient, bot, nurse, system
    text: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict] = mapped_column(JSON, default=dict)  # buttons, custom payloads, flags
    language: Mapped[str | None] = mapped_column(String(5), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class InboundReceipt(Base):
    """A provider's id for a message it delivered to us (Telegram update_id, Twilio MessageSid).

    The unique key makes a redelivery a no-op, across restarts and back-office instances alike.
    """

    __tablename__ = "inbound_receipts"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_inbound_receipt"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class PhoneVerification(Base):
    """A patient proving a mobile number from a conversation, so that channels can be linked.

    The code itself is never stored: only a salted hash, compared in constant time. A verification
    waits for the number (`awaiting_phone`), then for the code (`code_sent`), and ends `confirmed`,
    `cancelled`, `expired` or `locked` (too many wrong codes).
    """

    __tablename__ = "phone_verifications"
    __table_args__ = (Index("ix_phone_verifications_conversation_status", "conversation_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20), default="awaiting_phone")
    phone: Mapped[str | None] = mapped_column(String(20), default=None)
    code_salt: Mapped[str | None] = mapped_column(String(32), default=None)
    code_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class VerificationBudget(Base):
    """How many verification codes one scope sent in one window: a conversation, a number, a client
    address or the whole hospital, in the hour or the day that starts at `window_start`.

    One row per (scope, key, window), incremented in the database under its limit
    (`identity.take_budgets`), so that concurrent requests cannot all read "2 of 3" and all send.
    The key is a digest: the table holds no number or address in clear.
    """

    __tablename__ = "verification_budgets"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True, index=True)
    used: Mapped[int] = mapped_column(Integer, default=0)
