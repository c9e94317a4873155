"""The demo page: a hospital homepage with the chat widget embedded as a hospital would embed it.

Filled from the database (the seeded demo hospital: name, address, switchboard, services), so what
the page shows and what the assistant answers agree. Every value is HTML-escaped.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
from functools import lru_cache
from pathlib import Path

import yaml
from sqlalchemy import select

from bot.core.datafiles import localized
from bot.core.db import session_scope
from bot.core.language import supported_languages
from bot.core.numbers import fill_numbers, fill_numbers_in
from bot.hospital.models import Service, Site

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent
LANGUAGES = tuple(supported_languages())
MAX_SERVICES = 16


@lru_cache
def _texts(language: str) -> dict[str, str]:
    data = fill_numbers_in(yaml.safe_load((ASSETS / "demo_texts.yml").read_text(encoding="utf-8")))
    return {key: texts[language] for key, texts in data.items() if isinstance(texts, dict)}


_PLACEHOLDER = re.compile(r"\{\{([a-z0-9_.]+)\}\}")


@lru_cache
def _template() -> str:
    return fill_numbers((ASSETS / "demo.html").read_text(encoding="utf-8"))


@lru_cache
def widget_script() -> tuple[bytes, str]:
    """The widget, its emergency numbers filled, and its ETag."""
    body = fill_numbers((ASSETS / "widget.js").read_text(encoding="utf-8")).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _tel(number: str) -> str:
    return re.sub(r"[^\d+]", "", number)


def _service_item(service: Service, language: str, texts: dict[str, str]) -> str:
    name = html.escape(localized(service.name, language))
    where = ", ".join(part for part in (
        f"{texts['building']} {service.building}" if service.building else "",
        f"{texts['floor']} {service.floor}" if service.floor else "") if part)
    details = [html.escape(where)] if where else []
    if service.open_all_hours:
        details.append(html.escape(texts["open_all_hours"]))
    if service.phone:
        details.append(f'<a href="tel:{html.escape(_tel(service.phone))}">{html.escape(service.phone)}</a>')
    lines = "".join(f"<span>{detail}</span>" for detail in details)
    return f"        <li><strong>{name}</strong>{lines}</li>"


async def _hospital() -> tuple[Site | None, list[Service]]:
    try:
        async with session_scope() as session:
            site = await session.scalar(select(Site).order_by(Site.id).limit(1))
            if site is None:
                return None, []
            services = (await session.scalars(
                select(Service).where(Service.site_id == site.id).order_by(Service.id).limit(MAX_SERVICES))).all()
            return site, list(services)
    except Exception:  # the page must show even when the database is not ready
        log.exception("demo page: hospital not readable")
        return None, []


async def render_demo_page(language: str) -> str:
    language = language if language in LANGUAGES else "fr"
    texts = _texts(language)
    site, services = await _hospital()
    switchboard = site.switchboard_phone if site else ""
    values = {
        "lang": language,
        "name": site.name if site else texts["default_name"],
        "address": site.address if site else texts["default_address"],
        "switchboard": switchboard or "—",
        "switchboard_tel": _tel(switchboard),
        "access": (localized(site.access, language) if site and site.access else "") or texts["default_info"],
        "visiting_hours": (localized(site.visiting_hours, language) if site and site.visiting_hours else "")
        or texts["default_info"],
        "what_to_bring": (localized(site.what_to_bring, language) if site and site.what_to_bring else "")
        or texts["default_info"],
    }
    # The hospital's texts are written to follow "apportez :" in the assistant's answers.
    for key in ("access", "visiting_hours", "what_to_bring"):
        values[key] = values[key][:1].upper() + values[key][1:]
    escaped = {key: html.escape(value) for key, value in values.items()}
    escaped["services"] = "\n".join(_service_item(s, language, texts) for s in services) or (
        f"        <li>{html.escape(texts['no_services'])}</li>")
    escaped["current_fr"] = ' aria-current="true"' if language == "fr" else ""
    escaped["current_en"] = ' aria-current="true"' if language == "en" else ""

    def fill(match: re.Match) -> str:
        key = match[1]
        if key.startswith("t."):
            return html.escape(texts[key[2:]])
        return escaped[key]

    return _PLACEHOLDER.sub(fill, _template())
