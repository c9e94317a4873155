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
from bot.orientation import answer_buttons, next_question, orientation_reply, triage_state
from bot.triage import warm_up

# rasa_sdk imports this module before it reports healthy: build the triage pipeline (edsnlp,
# a few seconds) now, not on the first patient's complaint.
warm_up()

FORM_SLOTS = ("complaint", "triage_answers", "triage_question", "triage_answer")


def _complaint(tracker: Tracker) -> str:
    return tracker.get_slot("complaint") or tracker.latest_message.get("text") or ""


def _answers(tracker: Tracker) -> dict[str, str]:
    answers = tracker.get_slot("triage_answers")
    return dict(answers) if isinstance(answers, dict) else {}


class ValidateTriageForm(FormValidationAction):
    def name(self) -> str:
        return "validate_triage_form"

    async def required_slots(self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker,
                             domain: DomainDict) -> list[str]:
        result = triage_state(_complaint(tracker), _answers(tracker), language_of(tracker))
        # `complaint` is listed so that rasa_sdk calls extract_complaint (it only extracts required
        # slots); it is filled on the form's first turn, so it is never asked for.
        return [] if result.complete else ["complaint", "triage_answer"]

    async def extract_complaint(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                                domain: DomainDict) -> dict[str, Any]:
        # The message that opened the form is the complaint; later messages are answers.
        if tracker.get_slot("complaint"):
            return {}
        return {"complaint": tracker.latest_message.get("text") or "..."}

    async def validate_complaint(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                 domain: DomainDict) -> dict[str, Any]:
        return {"complaint": str(value).strip() or "..."}

    async def validate_triage_answer(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                                     domain: DomainDict) -> dict[str, Any]:
        question = tracker.get_slot("triage_question")
        answers = _answers(tracker)
        if question and value:
            answers[question] = str(value)
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
        dispatcher.utter_message(text=question["text"], buttons=answer_buttons(question))
        return [SlotSet("triage_question", question["id"])]


class ActionTriageOutcome(Action):
    def name(self) -> str:
        return "action_triage_outcome"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        language = language_of(tracker)
        result = triage_state(_complaint(tracker), _answers(tracker), language)
        text, custom = orientation_reply(result, await directory(), language)
        dispatcher.utter_message(text=text, json_message=custom)
        return [SlotSet(slot, None) for slot in FORM_SLOTS]
