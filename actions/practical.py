from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import directory, language_of, latest_entity, utter
from bot.hospital.practical import answer_practical


async def answer_practical_turn(dispatcher: CollectingDispatcher, tracker: Tracker) -> list:
    """Answers the latest message as a practical question; also used when a patient asks one in
    the middle of the orientation's questions."""
    message = tracker.latest_message
    answer = answer_practical(
        await directory(),
        (message.get("intent") or {}).get("name") or "",
        message.get("text") or "",
        language_of(tracker),
        service_code=latest_entity(tracker, "service"),
        exam_code=latest_entity(tracker, "exam"),
        pending_question=tracker.get_slot("pending_question"),
        previous_service=tracker.get_slot("service"),
    )
    for utterance in answer.utterances:
        utter(dispatcher, utterance.response, utterance.variables, utterance.buttons)
    return [SlotSet(name, value) for name, value in answer.slots.items()]


class ActionAnswerPractical(Action):
    def name(self) -> str:
        return "action_answer_practical"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        return await answer_practical_turn(dispatcher, tracker)
