"""What every action needs: the conversation's language and the hospital directory."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.core.db import sessionmaker
from bot.hospital.directory import Directory, get_directory


def language_of(tracker: Tracker) -> str:
    return tracker.get_slot("language") or "fr"


async def directory() -> Directory:
    return await get_directory(sessionmaker())


def utter(dispatcher: CollectingDispatcher, response: str, variables: dict[str, Any] | None = None,
          buttons: list[dict[str, str]] | None = None, custom: dict[str, Any] | None = None) -> None:
    kwargs: dict[str, Any] = dict(variables or {})
    if custom:
        kwargs["json_message"] = custom
    dispatcher.utter_message(response=response, buttons=buttons or [], **kwargs)


def latest_entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value) if value is not None else None
