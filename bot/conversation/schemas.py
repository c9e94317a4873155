"""The message path's request and response bodies (`POST /api/chat`)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Channel = Literal["web", "telegram", "sms", "api"]
# An id is printable: a NUL cannot be stored by PostgreSQL (a 500 rather than an answer), and a
# line break or an escape would forge lines wherever the id is shown. The message's text is not
# checked here: the message path cleans it, as a patient may paste anything.
_CONTROL_IN_ID = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Metadata is stored as JSON, where PostgreSQL refuses \u0000; line breaks and tabs may stay.
_CONTROL_IN_DATA = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(value: str) -> str:
    if _CONTROL_IN_ID.search(value):
        raise ValueError("must not contain control characters")
    return value


def _storable(value: Any) -> Any:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
        elif isinstance(item, str) and _CONTROL_IN_DATA.search(item):
            raise ValueError("must not contain control characters (such as NUL)")
    return value


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"sender": "web-4f1c2a", "text": "c quoi les horaires de la cardio stp", "channel": "web"}]})

    sender: Annotated[str, AfterValidator(_printable)] = Field(
        min_length=1, max_length=200, description="The channel's own id of the patient (no control characters).")
    text: str = Field(max_length=20_000, description="What the patient wrote. Longer than 5,000 characters is cut.")
    channel: Channel = Field("web", description="Where the patient writes from.")
    metadata: Annotated[dict[str, Any] | None, AfterValidator(_storable)] = Field(
        None, description="Channel details passed on to the engine (no control characters but line breaks and tabs).")


class Button(BaseModel):
    title: str
    payload: str


class ReplyOut(BaseModel):
    text: str
    buttons: list[Button] = []
    custom: dict[str, Any] = {}


class ChatResponse(BaseModel):
    conversation_id: str
    language: str
    replies: list[ReplyOut]
