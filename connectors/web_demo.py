"""The demo page: a hospital homepage with the chat widget embedded as a hospital would embed it.

Filled from the database (the seeded demo hospital: name, address, switchboard, services), so what
the page shows and what the assistant answers agree. Every value is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
import re
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select

from bot.datafiles import localized
from bot.db import session_scope
from bot.models import Service, Site

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "web"
LANGUAGES = ("fr", "en")
MAX_SERVICES = 16

TEXTS: dict[str, dict[str, str]] = {
    "fr": {
        "page_title": "Centre hospitalier", "meta": "Informations pratiques, services et assistant du patient.",
        "skip": "Aller au contenu", "emergency_short": "URGENCE", "emergency_call": "Urgence vitale : appelez le",
        "or": "ou le", "switchboard": "Standard :", "language": "Langue", "tagline": "Centre hospitalier · Soins, urgences, maternité",
        "nav_label": "Navigation principale", "nav_patients": "Patients et visiteurs", "nav_services": "Nos services",
        "nav_appointment": "Prendre rendez-vous", "nav_assistant": "Assistant Parcours", "nav_contact": "Contact",
        "welcome": "Bienvenue au", "lead": "Horaires, accès, visites, préparation d'un examen : trouvez l'information "
        "utile avant de venir, ou posez votre question à Parcours, notre assistant, en bas à droite de l'écran.",
        "cta_appointment": "Prendre rendez-vous", "cta_come": "Venir à l'hôpital",
        "alert_title": "Urgence vitale", "alert_text": "Douleur dans la poitrine, difficulté à respirer, paralysie, "
        "perte de connaissance : n'attendez pas, appelez immédiatement.", "europe": "Europe",
        "alert_small": "114 : par SMS, pour les personnes sourdes, malentendantes ou ne pouvant pas parler.",
        "practical": "Infos pratiques", "come_title": "Venir à l'hôpital", "visits_title": "Heures de visite",
        "bring_title": "Préparer votre venue", "services_title": "Nos services",
        "assistant_title": "Parcours, l'assistant du patient", "assistant_text": "Parcours répond jour et nuit, en "
        "français ou en anglais, aux questions pratiques et vous oriente selon vos symptômes vers le bon "
        "interlocuteur. Il ne pose pas de diagnostic et ne remplace pas un avis médical.",
        "assistant_1": "Horaires, téléphone et localisation de chaque service",
        "assistant_2": "Accès, stationnement et transports", "assistant_3": "Heures de visite et documents à apporter",
        "assistant_4": "Orientation selon vos symptômes, avec le 15 en cas d'urgence vitale",
        "demo_notice": "Page de démonstration de Parcours : établissement fictif.",
        "footer_info": "Informations", "legal": "Mentions légales", "privacy": "Données personnelles",
        "accessibility": "Accessibilité : partiellement conforme", "footer_tools": "Pour les équipes",
        "api_docs": "Documentation de l'API", "health": "État du service",
        "no_services": "La liste des services sera bientôt disponible.",
        "default_name": "Centre hospitalier de démonstration", "default_address": "Adresse communiquée à l'accueil",
        "default_info": "Demandez à Parcours, l'assistant, en bas à droite de l'écran.",
        "open_all_hours": "Ouvert 24 h/24", "building": "Bâtiment", "floor": "niveau",
    },
    "en": {
        "page_title": "Hospital", "meta": "Practical information, departments and patient assistant.",
        "skip": "Skip to content", "emergency_short": "EMERGENCY", "emergency_call": "Life-threatening emergency: call",
        "or": "or", "switchboard": "Switchboard:", "language": "Language", "tagline": "Hospital · Care, emergencies, maternity",
        "nav_label": "Main navigation", "nav_patients": "Patients and visitors", "nav_services": "Departments",
        "nav_appointment": "Book an appointment", "nav_assistant": "Parcours assistant", "nav_contact": "Contact",
        "welcome": "Welcome to", "lead": "Opening hours, directions, visits, preparing for an exam: find what you "
        "need before you come, or ask Parcours, our assistant, at the bottom right of the screen.",
        "cta_appointment": "Book an appointment", "cta_come": "Getting here",
        "alert_title": "Life-threatening emergency", "alert_text": "Chest pain, difficulty breathing, paralysis, "
        "loss of consciousness: do not wait, call now.", "europe": "Europe",
        "alert_small": "114: by text message, for deaf or hard-of-hearing people and those who cannot speak.",
        "practical": "Practical information", "come_title": "Getting here", "visits_title": "Visiting hours",
        "bring_title": "Preparing your visit", "services_title": "Our departments",
        "assistant_title": "Parcours, the patient assistant", "assistant_text": "Parcours answers practical questions "
        "day and night, in French or English, and tells you where to go for your symptoms. It does not diagnose "
        "and does not replace medical advice.",
        "assistant_1": "Opening hours, phone number and location of each department",
        "assistant_2": "Directions, parking and public transport", "assistant_3": "Visiting hours and what to bring",
        "assistant_4": "Where to go for your symptoms, with 15 in a life-threatening emergency",
        "demo_notice": "Parcours demo page: a fictitious hospital.",
        "footer_info": "Information", "legal": "Legal notice", "privacy": "Personal data",
        "accessibility": "Accessibility: partially compliant", "footer_tools": "For staff",
        "api_docs": "API documentation", "health": "Service status",
        "no_services": "The list of departments will be available soon.",
        "default_name": "Demo hospital", "default_address": "Address available at the reception",
        "default_info": "Ask Parcours, the assistant, at the bottom right of the screen.",
        "open_all_hours": "Open 24/7", "building": "Building", "floor": "floor",
    },
}

_PLACEHOLDER = re.compile(r"\{\{([a-z0-9_.]+)\}\}")


@lru_cache
def _template() -> str:
    return (ASSETS / "demo.html").read_text(encoding="utf-8")


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
    texts = TEXTS[language]
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
