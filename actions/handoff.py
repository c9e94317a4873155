from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import directory, utter


class ActionHumanHandoff(Action):
    """Until the nurse inbox exists, a human means the hospital's switchboard."""

    def name(self) -> str:
        return "action_human_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        site = (await directory()).site
        utter(dispatcher, "utter_human_handoff", {"site": site.name, "phone": site.switchboard_phone})
        return []
