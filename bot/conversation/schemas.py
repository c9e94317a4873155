"""The message path's request and response bodies (`POST /api/chat`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["web", "telegram", "sms", "api"]


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"sender": "web-4f1c2a", "text": "c quoi les horaires de la cardio stp", "channel": "web"}]})

    sender: str = Field(min_length=1, max_length=200, description="The channel's own id of the patient.")
    text: str = Field(max_length=20_000, description="What the patient wrote. Longer than 5,000 characters is cut.")
    channel: Channel = Field("web", description="Where the patient writes from.")
    metadata: dict[str, Any] | None = Field(None, description="Channel details passed on to the engine.")


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
