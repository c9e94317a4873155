"""Orientation in the chat: a Rasa form whose questions come from the triage engine in bot/triage.

The form only carries the state (complaint, answers, pending question); the engine decides
which question matters next and when the decision is made.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import directory, language_of
from actions.practical import answer_practical_turn
from bot.hospital.practical import PRACTICAL_INTENTS
from bot.triage import warm_up
from bot.triage.orientation import (
    answer_buttons,
    next_question,
    orientation_reply,
    question_preface,
    questions_are_stuck,
    record_answer,
    stuck_notice,
    triage_state,
)

# rasa_sdk imports this module before it reports healthy: build the triage pipeline (edsnlp,
# a few seconds) now, not on the first patient's complaint.
warm_up()

FORM_SLOTS = ("complaint", "triage_answers", "triage_question", "triage_answer")


def _complaint(tracker: Tracker) -> str:
    return tracker.get_slot("complaint") or tracker.latest_message.get("text") or ""


def _answers(tracker: Tracker) -> dict[str, str]:
    answers = tracker.get_slot("triage_answers")
    return dict(answers) if isinstance(answers, dict) else {}


def _asked_something_else(tracker: Tracker) -> bool:
    """The latest message reads as a practical question (hours, address…) rather than an answer."""
    return ((tracker.latest_message.get("intent") or {}).get("name") or "") in PRACTICAL_INTENTS


def _stuck(tracker: Tracker, language: str) -> bool:
    return questions_are_stuck(_complaint(tracker), _answers(tracker), language,
                               asked_something_else=_asked_something_else(tracker))


class ValidateTriageForm(FormValidationAction):
    def name(self) -> str:
        return "validate_triage_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        language = language_of(tracker)
        result = triage_state(_complaint(tracker), _answers(tracker), language)
        # `complaint` is listed so that rasa_sdk calls extract_complaint (it only extracts required
        # slots); it is filled on the form's first turn, so it is never asked for.
        return [] if result.complete or _stuck(tracker, language) else ["complaint", "triage_answer"]

    async def extract_complaint(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        # The message that opened the form is the complaint; later messages are answers. When the
        # back office opened the orientation itself (a possible emergency), the patient's words
        # ride in the `complaint` entity of its payload.
        if tracker.get_slot("complaint"):
            return {}
        given = next(tracker.get_latest_entity_values("complaint"), None)
        return {"complaint": str(given or tracker.latest_message.get("text") or "...")}

    async def validate_complaint(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> dict[str, Any]:
        return {"complaint": str(value).strip() or "..."}

    async def validate_triage_answer(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        question = tracker.get_slot("triage_question")
        answers = _answers(tracker)
        if question and value:
            answers = record_answer(_complaint(tracker), answers, question, str(value), language_of(tracker))
        # Cleared so that the form asks again while the engine still has questions.
        return {"triage_answers": answers, "triage_answer": None}


class ActionAskTriageAnswer(Action):
    def name(self) -> str:
        return "action_ask_triage_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        language = language_of(tracker)
        question = next_question(_complaint(tracker), _answers(tracker), language)
        if question is None:
            return []
        answers = _answers(tracker)
        preface = question_preface(question, language, answers)
        if preface and (tracker.get_slot("triage_question") != question["id"] or question["id"] == "describe"):
            dispatcher.utter_message(text=preface)
        dispatcher.utter_message(text=question["text"], buttons=answer_buttons(question, language, answers))
        return [SlotSet("triage_question", question["id"])]


class ActionTriageOutcome(Action):
    def name(self) -> str:
        return "action_triage_outcome"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        language = language_of(tracker)
        result = triage_state(_complaint(tracker), _answers(tracker), language)
        events: list = []
        if not result.complete:
            # The questions stopped before the end: say so, answer the practical question the
            # patient asked instead, and give the orientation with what is known.
            if _asked_something_else(tracker):
                events = await answer_practical_turn(dispatcher, tracker)
            dispatcher.utter_message(text=stuck_notice(language))
        text, custom = orientation_reply(result, await directory(), language)
        dispatcher.utter_message(text=text, json_message=custom)
        return events + [SlotSet(slot, None) for slot in FORM_SLOTS]
