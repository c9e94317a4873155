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
    phone: Mapped[str | None] = mapped_column(String(40), default=None)
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
