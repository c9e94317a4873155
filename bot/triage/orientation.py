"""Turns the triage engine's decision into what the patient reads, with the hospital's own
addresses and phone numbers, and the payload channels render as a call button.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from bot.core.datafiles import load, localized
from bot.core.numbers import emergency_numbers
from bot.hospital.directory import Directory, ServiceInfo, format_hours
from bot.triage import triage
from bot.triage.rules import rules

EMERGENCY_SPECIALTIES = ("emergency", "paediatric_emergency", "maternity")


def _texts() -> dict[str, Any]:
    return load("orientation")


def triage_state(complaint: str, answers: dict[str, str], language: str):
    return _triage_once(complaint, tuple(sorted((answers or {}).items())), language)


@lru_cache(maxsize=512)
def _triage_once(complaint: str, answers: tuple[tuple[str, str], ...], language: str):
    # One form turn asks for the same decision several times (which slots remain, the next
    # question, the outcome): the engine is a pure function of these inputs, so compute it once.
    return triage(complaint, language=language, answers=dict(answers) or None)


# How many answers to "describe the problem" the engine could not read, kept among the answers.
MISSES = "_misses"
MAX_MISSES = 2
DESCRIBE = "describe"


def next_question(complaint: str, answers: dict[str, str], language: str) -> dict[str, Any] | None:
    result = triage_state(complaint, answers, language).to_dict()
    # "Describe the problem" may be asked again (its answers add up); any other question once.
    pending = [q for q in result["follow_up_questions"] if q["id"] not in answers or q["id"] == DESCRIBE]
    return pending[0] if pending else None


def record_answer(complaint: str, answers: dict[str, str], question: str, value: str, language: str) -> dict[str, str]:
    """The answers with this one added. Descriptions add up ("je ne me sens pas bien", then
    "j'ai mal au ventre"); one that still tells the engine nothing counts as a miss."""
    answers = dict(answers)
    if question == DESCRIBE and answers.get(DESCRIBE):
        value = f"{answers[DESCRIBE]} . {value}"
    answers[question] = value
    if question == DESCRIBE and any(q.id == DESCRIBE for q in triage_state(complaint, answers, language).follow_up_questions):
        answers[MISSES] = str(int(answers.get(MISSES, "0")) + 1)
    return answers


def questions_are_stuck(complaint: str, answers: dict[str, str], language: str, *, asked_something_else: bool) -> bool:
    """Stop asking: two answers the engine could not read, or one when the patient asked a
    practical question instead, or nothing left to ask although the decision is incomplete. The
    orientation then ends with what is known, never with silence or the same question again."""
    misses = int(answers.get(MISSES, "0"))
    if misses >= MAX_MISSES or (misses and asked_something_else):
        return True
    return not triage_state(complaint, answers, language).complete and next_question(complaint, answers, language) is None


def question_preface(question: dict[str, Any], language: str, answers: dict[str, str] | None = None) -> str | None:
    """What comes before some questions: the caring answer and 3114 before the direct question
    about suicide; a word of why before a confirming question; after a description the engine
    could not read, what kind of answer helps."""
    if question["id"] == DESCRIBE and int((answers or {}).get(MISSES, "0")):
        return localized(_texts()["describe_again"], language)
    if question["id"] == "suicide_thoughts":
        return support_reply(language)
    if question["id"] == "confirm_now":
        return confirm_hint(language)
    return None


def stuck_notice(language: str) -> str:
    return localized(_texts()["stuck"], language)


def answer_buttons(question: dict[str, Any], language: str = "fr", answers: dict[str, str] | None = None) -> list[dict[str, str]]:
    # Short values keep the payload under Telegram's 64-byte callback limit.
    options = question.get("options", [])
    if question["id"] == DESCRIBE and int((answers or {}).get(MISSES, "0")):
        # A description the engine could not read: offer the commonest ones as quick replies.
        labels = [localized(option, language) for option in _texts()["describe_options"]]
        options = [{"label": label, "value": label} for label in labels]
    return [{"title": option["label"], "payload": "/answer" + json.dumps({"answer": option["value"]}, ensure_ascii=False)}
            for option in options]


def _call_button(code: str, language: str) -> dict[str, str]:
    """The number to call, by its code in emergency_numbers.yml, as a button the channel renders."""
    number = emergency_numbers().numbers[code].number
    return {"number": number, "label": localized(_texts()["call_labels"], language).format(number=number)}


def orientation_reply(result, directory: Directory, language: str) -> tuple[str, dict[str, Any]]:
    texts = _texts()
    data = result.to_dict()
    level = data["level"]
    if level == "emergency_call":
        return emergency_reply(data["red_flags"], directory, language, reasons=data["reasons"])
    service = _service_for(directory, data.get("service"), level)
    parts = [_level_sentence(level, service, directory, language)]
    if data["flags"] and any(f.advice for f in rules().red_flags if f.code in set(data["red_flags"])):
        parts.append(data["advice"])  # a red flag's own advice: the maternity, 3114, pressure on a wound…
    if data["reasons"]:
        parts.append(localized(texts["because"], language).format(reasons="; ".join(data["reasons"])))
    if data.get("safety_net"):
        parts.append(data["safety_net"])
    parts.append(localized(texts["not_a_diagnosis"], language))
    custom: dict[str, Any] = {"triage": {"level": level, "service": data.get("service"), "red_flags": data["red_flags"]}}
    if level == "emergency_department":
        site = directory.site
        custom["triage"]["place"] = {"name": site.name, "address": site.address}
        custom["call"] = _call_button("samu", language)
    elif "suicidal_thoughts" in data["red_flags"]:
        custom["call"] = _call_button("suicide", language)
    elif level == "same_day":
        custom["call"] = _call_button("on_call_gp", language)
    return "\n\n".join(parts), custom


def _service_for(directory: Directory, specialty: str | None, level: str) -> ServiceInfo | None:
    if level == "emergency_department":
        candidates = directory.services_for_specialty(specialty) if specialty in EMERGENCY_SPECIALTIES else []
        found = candidates or directory.services_for_specialty("emergency")
        return found[0] if found else None
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
    urgent = [f for f in flags if f.level in ("emergency_call", "emergency_department")] or flags
    level = "emergency_department" if urgent and all(f.level == "emergency_department" for f in urgent) \
        else "emergency_call"
    labels = [localized(flag.label, language) for flag in urgent if flag.level == level]
    reason = "; ".join(labels) if labels else localized(texts["unknown_reason"], language)
    reason = reason[:1].upper() + reason[1:]
    if level == "emergency_call":
        parts = [localized(texts["headline"], language).format(reasons=reason)]
        if reasons:
            parts.append(" ".join(reasons))  # what the patient described, from the orientation
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
    # What to do while help comes: the flags' own advice (CPR, adrenaline, cooling, sugar, safety
    # from a violent person), else the general advice.
    advice = list(dict.fromkeys(localized(flag.advice, language) for flag in urgent if flag.advice and flag.level == level))
    parts.extend(advice or [localized(texts["advice"], language)])
    parts.append(localized(texts["closing"], language))
    custom = {"triage": {"level": level, "service": flags[0].service if flags else "emergency",
                         "red_flags": list(red_flags)},
              "call": _call_button("samu", language)}
    return "\n\n".join(parts), custom


def support_reply(language: str) -> str:
    """The caring answer to dark thoughts without a plan: 3114 now, and 15 if in danger. Needs no
    engine, so the back office can give it when the engine is down."""
    return localized(_texts()["support"], language)


def confirm_hint(language: str) -> str:
    return localized(_texts()["confirm_hint"], language)
