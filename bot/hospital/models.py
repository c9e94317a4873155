"""The hospital as patients ask about it: sites, services, opening hours, practitioners, exams."""

from __future__ import annotations

from datetime import time

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Time
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.core.models import Base, Localized


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    switchboard_phone: Mapped[str] = mapped_column(String(40))
    emergency_phone: Mapped[str] = mapped_column(String(40))
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
