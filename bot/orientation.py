"""Turns the triage engine's decision into what the patient reads, with the hospital's own
addresses and phone numbers, and the payload channels render as a call button.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from bot.datafiles import load, localized
from bot.directory import Directory, format_hours
from bot.triage import triage
from bot.triage.rules import rules

EMERGENCY_SPECIALTIES = ("emergency", "paediatric_emergency")


def _texts() -> dict[str, Any]:
    return load("orientation")


def triage_state(complaint: str, answers: dict[str, str], language: str):
    return _triage_once(complaint, tuple(sorted((answers or {}).items())), language)


@lru_cache(maxsize=512)
def _triage_once(complaint: str, answers: tuple[tuple[str, str], ...], language: str):
    # One form turn asks for the same decision several times (which slots remain, the next
    # question, the outcome): the engine is a pure function of these inputs, so compute it once.
    return triage(complaint, language=language, answers=dict(answers) or None)


def next_question(complaint: str, answers: dict[str, str], language: str) -> dict[str, Any] | None:
    result = triage_state(complaint, answers, language).to_dict()
    pending = [q for q in result["follow_up_questions"] if q["id"] not in answers]
    return pending[0] if pending else None


def answer_buttons(question: dict[str, Any]) -> list[dict[str, str]]:
    # Short values keep the payload under Telegram's 64-byte callback limit.
    return [{"title": option["label"], "payload": "/answer" + json.dumps({"answer": option["value"]})}
            for option in question.get("options", [])]


def _call_button(number: str, language: str) -> dict[str, str]:
    return {"number": number, "label": localized(_texts()["call_labels"], language).format(number=number)}


def orientation_reply(result, directory: Directory, language: str) -> tuple[str, dict[str, Any]]:
    texts = _texts()
    data = result.to_dict()
    level = data["level"]
    if level == "emergency_call":
        return emergency_reply(data["red_flags"], directory, language, reasons=data["reasons"])
    service = _service_for(directory, data.get("service"), level)
    parts = [_level_sentence(level, service, directory, language)]
    if data["reasons"]:
        parts.append(localized(texts["because"], language).format(reasons="; ".join(data["reasons"])))
    if data.get("safety_net"):
        parts.append(data["safety_net"])
    parts.append(localized(texts["not_a_diagnosis"], language))
    custom: dict[str, Any] = {"triage": {"level": level, "service": data.get("service"), "red_flags": data["red_flags"]}}
    if level == "emergency_department":
        site = directory.site
        custom["triage"]["place"] = {"name": site.name, "address": site.address}
        custom["call"] = _call_button("15", language)
    elif level == "same_day":
        custom["call"] = _call_button("116 117", language)
    return "\n\n".join(parts), custom


def _service_for(directory: Directory, specialty: str | None, level: str):
    if level == "emergency_department":
        candidates = directory.services_for_specialty(specialty) if specialty in EMERGENCY_SPECIALTIES else []
        return (candidates or directory.services_for_specialty("emergency") or [None])[0]
    if specialty:
        candidates = directory.services_for_specialty(specialty)
        return candidates[0] if candidates else None
    return None


def _level_sentence(level: str, service, directory: Directory, language: str) -> str:
    texts = _texts()
    template = localized(texts["levels"][level], language)
    site = directory.site
    with_service = ""
    if service is not None and level in ("appointment", "teleconsultation"):
        with_service = localized(texts["with_service"], language).format(
            service=localized(service.name, language), phone=service.phone or site.switchboard_phone,
            hours=format_hours(service, language))
    return template.format(
        place=localized(service.name, language) if service is not None else site.name,
        address=site.address, phone=(service.phone if service is not None else "") or site.switchboard_phone,
        with_service=with_service)


def emergency_reply(red_flags: list[str], directory: Directory | None, language: str,
                    reasons: list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The answer to a life-threatening emergency, built from the red-flag rules alone, so that the
    back office can give it even when the engine is down."""
    texts = _texts()["emergency"]
    book = rules()
    flags = [flag for flag in book.red_flags if flag.code in set(red_flags)]
    labels = reasons or [localized(flag.label, language) for flag in flags]
    reason = "; ".join(labels) if labels else localized(texts["unknown_reason"], language)
    reason = reason[:1].upper() + reason[1:]
    level = "emergency_department" if flags and all(f.level == "emergency_department" for f in flags) \
        else "emergency_call"
    if level == "emergency_call":
        parts = [localized(texts["headline"], language).format(reasons=reason)]
    elif directory is not None:
        service = _service_for(directory, flags[0].service, level)
        parts = [f"⚠️ {reason}.", _level_sentence(level, service, directory, language)]
    else:
        parts = [localized(texts["department_headline"], language).format(reasons=reason)]
    extra_codes = dict.fromkeys(code for flag in flags for code in flag.extra_numbers
                                if code not in book.default_numbers)
    for code in extra_codes:
        number = book.numbers[code]
        parts.append(localized(texts["also_call"], language).format(
            number=number.number, label=localized(number.label, language)))
    parts.append(localized(texts["advice"], language))
    custom = {"triage": {"level": level, "service": flags[0].service if flags else "emergency",
                         "red_flags": list(red_flags)},
              "call": _call_button("15", language)}
    return "\n\n".join(parts), custom
