from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import utter
from bot.conversation.identity import expect_phone


class ActionLinkPhone(Action):
    """Asks for the mobile number; the back office takes the number and the code from there."""

    def name(self) -> str:
        return "action_link_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        await expect_phone(tracker.sender_id)  # the gateway's sender is the conversation id
        utter(dispatcher, "utter_ask_mobile_number")
        return []
