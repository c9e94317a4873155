"""The data model: the hospital as patients ask about it, and every conversation as it happened.

Texts a patient reads exist in several languages, so they are stored as {"fr": ..., "en": ...}
maps (`Localized`) rather than one column per language: adding a language adds no migration.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timezone

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, Time, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

Localized = dict[str, str]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, str]: JSON, dict: JSON, list: JSON, list[str]: JSON}


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    switchboard_phone: Mapped[str] = mapped_column(String(40))
    emergency_phone: Mapped[str] = mapped_column(String(40), default="15")
    access: Mapped[Localized] = mapped_column(default=dict)  # how to get there: transport, parking
    visiting_hours: Mapped[Localized] = mapped_column(default=dict)  # general rule for the site
    what_to_bring: Mapped[Localized] = mapped_column(default=dict)  # general list, before a stay or visit
    latitude: Mapped[float | None] = mapped_column(default=None)
    longitude: Mapped[float | None] = mapped_column(default=None)

    services: Mapped[list[Service]] = relationship(back_populates="site", order_by="Service.id")


class Service(Base):
    __tablename__ = "services"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(40), unique=True)
    specialty: Mapped[str] = mapped_column(String(40), index=True)  # triage routes to this code
    name: Mapped[Localized] = mapped_column()
    aliases: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    description: Mapped[Localized] = mapped_column(default=dict)
    building: Mapped[str] = mapped_column(String(80), default="")
    floor: Mapped[str] = mapped_column(String(40), default="")
    location: Mapped[Localized] = mapped_column(default=dict)  # directions inside the hospital
    phone: Mapped[str] = mapped_column(String(40), default="")
    open_all_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    what_to_bring: Mapped[Localized] = mapped_column(default=dict)
    visiting_hours: Mapped[Localized] = mapped_column(default=dict)  # overrides the site's rule when set
    accepts_appointments: Mapped[bool] = mapped_column(Boolean, default=True)

    site: Mapped[Site] = relationship(back_populates="services")
    hours: Mapped[list[OpeningHours]] = relationship(
        back_populates="service", cascade="all, delete-orphan", order_by="(OpeningHours.weekday, OpeningHours.opens)"
    )
    practitioners: Mapped[list[Practitioner]] = relationship(back_populates="service", cascade="all, delete-orphan")
    exams: Mapped[list[Exam]] = relationship(back_populates="service", cascade="all, delete-orphan")


class OpeningHours(Base):
    """One opening interval on one weekday (0 = Monday). Several rows make split days."""

    __tablename__ = "opening_hours"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)

    service: Mapped[Service] = relationship(back_populates="hours")


class Practitioner(Base):
    __tablename__ = "practitioners"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(20))  # Dr, Pr, Mme, M.
    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[Localized] = mapped_column(default=dict)

    service: Mapped[Service] = relationship(back_populates="practitioners")

    @property
    def display_name(self) -> str:
        return f"{self.title} {self.first_name} {self.last_name}"


class Exam(Base):
    """An examination a patient may need to prepare for (MRI, colonoscopy…)."""

    __tablename__ = "exams"

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[Localized] = mapped_column()
    aliases: Mapped[dict[str, list[str]]] = mapped_column(JSON, default=dict)
    preparation: Mapped[Localized] = mapped_column()

    service: Mapped[Service] = relationship(back_populates="exams")


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    language: Mapped[str] = mapped_column(String(5), default="fr")
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
    language: Mapped[str] = mapped_column(String(5), default="fr")
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


# ---------------------------------------------------------------- channels and the outbox


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
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sending, sent, failed, cancelled
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


# ---------------------------------------------------------------- identity across channels


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
