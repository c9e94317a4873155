"""Practical questions (hours, address, phone, location, visits, what to bring, exams) answered
from the hospital directory. Returns which response to say and with what: the words themselves
live in domain.yml, in every language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.core.datafiles import localized
from bot.hospital.directory import Directory, format_hours, format_location, format_service_list

# Which question each intent asks; a bare service name answers the question asked before it.
QUESTION_OF_INTENT = {
    "ask_hours": "hours",
    "ask_address": "address",
    "ask_phone": "phone",
    "ask_location": "location",
    "ask_visiting_hours": "visiting_hours",
    "ask_what_to_bring": "what_to_bring",
    "ask_exam_preparation": "exam_preparation",
    "ask_services": "services",
    "ask_appointment": "appointment",
}
PRACTICAL_INTENTS = frozenset(QUESTION_OF_INTENT) | {"inform_service", "inform_exam"}
# Questions that have a hospital-wide answer when no service is named.
SITE_WIDE = {"address", "phone", "visiting_hours", "what_to_bring"}
MAX_BUTTONS = 6


@dataclass
class Utterance:
    response: str
    variables: dict[str, Any] = field(default_factory=dict)
    buttons: list[dict[str, str]] = field(default_factory=list)


@dataclass
class PracticalAnswer:
    utterances: list[Utterance]
    slots: dict[str, Any]


def service_button(service, language: str) -> dict[str, str]:
    # Short codes keep the payload within Telegram's 64-byte callback limit.
    return {"title": localized(service.name, language), "payload": f'/inform_service{{"service":"{service.code}"}}'}


def exam_button(exam, language: str) -> dict[str, str]:
    return {"title": localized(exam.name, language), "payload": f'/inform_exam{{"exam":"{exam.code}"}}'}


def answer_practical(
    directory: Directory,
    intent: str,
    text: str,
    language: str,
    *,
    service_code: str | None = None,
    exam_code: str | None = None,
    pending_question: str | None = None,
    previous_service: str | None = None,
) -> PracticalAnswer:
    """The answer to one practical question.

    `service_code`/`exam_code` come from a button the patient pressed; otherwise the service is
    looked for in the text, then taken from the previous question ("and their phone number?").
    """
    question = QUESTION_OF_INTENT.get(intent) or pending_question or "overview"
    if intent == "inform_exam" or question == "exam_preparation":
        return _exam_answer(directory, text, language, exam_code)
    if question == "services":
        return _answer(Utterance("utter_services_list", _site_vars(directory, language) | {
            "services": format_service_list(directory.services, language)}), service=previous_service)

    if service_code:
        service = directory.service(service_code)
        match_status = "found" if service else "none"
        candidates = [service] if service else []
    else:
        match = directory.match_service(text, language)
        match_status, candidates = match.status, list(match.services)
        if match_status == "none" and previous_service and intent != "inform_service":
            previous = directory.service(previous_service)
            if previous:
                match_status, candidates = "found", [previous]

    if match_status == "found":
        return _service_answer(directory, question, candidates[0], language)
    if match_status == "ambiguous":
        names = [localized(s.name, language) for s in candidates[:MAX_BUTTONS]]
        return _answer(
            Utterance("utter_service_ambiguous", {"candidates": " / ".join(names)},
                      [service_button(s, language) for s in candidates[:MAX_BUTTONS]]),
            pending=question,
        )
    if question in SITE_WIDE:
        return _site_answer(directory, question, language)
    if intent == "inform_service":
        return _answer(Utterance("utter_service_unknown", {
            "services": format_service_list(directory.services, language)}), pending=pending_question)
    return _answer(
        Utterance("utter_ask_which_service", {}, [service_button(s, language) for s in _main_services(directory)]),
        pending=question,
    )


def _answer(*utterances: Utterance, service: str | None = None, pending: str | None = None, exam: str | None = None):
    return PracticalAnswer(list(utterances), {"service": service, "pending_question": pending, "exam": exam})


def _site_vars(directory: Directory, language: str) -> dict[str, Any]:
    site = directory.site
    return {"site": site.name, "address": site.address, "phone": site.switchboard_phone,
            "access": localized(site.access, language)}


def _service_vars(directory: Directory, service, language: str) -> dict[str, Any]:
    return _site_vars(directory, language) | {
        "service": localized(service.name, language),
        "phone": service.phone or directory.site.switchboard_phone,
        "hours": format_hours(service, language),
        "location": format_location(service, language),
        "description": localized(service.description, language),
    }


def _service_answer(directory: Directory, question: str, service, language: str) -> PracticalAnswer:
    variables = _service_vars(directory, service, language)
    site = directory.site
    if question == "hours":
        response = "utter_open_all_hours" if service.open_all_hours else "utter_hours"
        utterance = Utterance(response, variables)
    elif question == "address":
        utterance = Utterance("utter_service_address", variables)
    elif question == "phone":
        utterance = Utterance("utter_phone", variables)
    elif question == "location":
        utterance = Utterance("utter_location", variables)
    elif question == "visiting_hours":
        rule = localized(service.visiting_hours, language) or localized(site.visiting_hours, language)
        utterance = Utterance("utter_visiting_hours", variables | {"visiting_hours": rule})
    elif question == "what_to_bring":
        items = localized(service.what_to_bring, language) or localized(site.what_to_bring, language)
        utterance = Utterance("utter_what_to_bring", variables | {"what_to_bring": items})
    elif question == "appointment":
        response = "utter_appointment_by_phone" if service.accepts_appointments else "utter_no_appointments"
        utterance = Utterance(response, variables)
    else:
        utterance = Utterance("utter_service_overview", variables)
    return _answer(utterance, service=service.code)


def _site_answer(directory: Directory, question: str, language: str) -> PracticalAnswer:
    variables = _site_vars(directory, language)
    site = directory.site
    response = {
        "address": "utter_site_address",
        "phone": "utter_switchboard",
        "visiting_hours": "utter_site_visiting_hours",
        "what_to_bring": "utter_site_what_to_bring",
    }[question]
    variables |= {"visiting_hours": localized(site.visiting_hours, language),
                  "what_to_bring": localized(site.what_to_bring, language)}
    return _answer(Utterance(response, variables))


def _exam_answer(directory: Directory, text: str, language: str, exam_code: str | None) -> PracticalAnswer:
    exam = directory.exam(exam_code) if exam_code else None
    if exam is None:
        match = directory.match_exam(text, language)
        exam = match.exams[0] if match.status == "found" else None
        candidates = list(match.exams) if match.status == "ambiguous" else list(directory.exams)
    if exam is not None:
        return _answer(Utterance("utter_exam_preparation", {
            "exam": localized(exam.name, language), "preparation": localized(exam.preparation, language)}),
            exam=exam.code)
    shown = candidates[:MAX_BUTTONS]
    return _answer(
        Utterance("utter_ask_which_exam", {"exams": ", ".join(localized(e.name, language) for e in shown)},
                  [exam_button(e, language) for e in shown]),
        pending="exam_preparation",
    )


def _main_services(directory: Directory) -> list:
    return [s for s in directory.services if not s.open_all_hours][:MAX_BUTTONS]
