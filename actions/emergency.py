from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import directory, language_of
from bot.triage.orientation import emergency_reply


class ActionEmergency(Action):
    """Answers a red flag found by the back office's screen, whatever flow was going on."""

    def name(self) -> str:
        return "action_emergency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        red_flags = tracker.get_slot("red_flags") or []
        text, custom = emergency_reply(red_flags, await directory(), language_of(tracker))
        dispatcher.utter_message(text=text, json_message=custom)
        interrupted = (tracker.active_loop or {}).get("name")
        return [SlotSet("interrupted_flow", interrupted), SlotSet("red_flags", None)]


class ActionResumeFlow(Action):
    """After "it was a mistake", the form the red flag interrupted picks up where it was."""

    def name(self) -> str:
        return "action_resume_flow"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list:
        flow = tracker.get_slot("interrupted_flow")
        if not flow:
            return []
        return [SlotSet("interrupted_flow", None), FollowupAction(flow)]
