"""Stand-ins for the engine, for tests that exercise the back office alone."""

from __future__ import annotations

from typing import Any

from bot.conversation import engine


class FakeEngine:
    """Records what the back office sends to Rasa and answers like the gateway does."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.down = False

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        self.received.append({"sender": conversation_id, "text": text, "metadata": metadata})
        if self.down:
            raise engine.EngineUnavailable("fake engine is down")
        return [{"recipient_id": conversation_id, **self.reply(text, metadata)}]

    def reply(self, text: str, metadata: dict[str, Any]) -> dict[str, Any]:
        return {"text": f"echo: {text[:50]}",
                "buttons": [{"title": "Cardiologie", "payload": '/inform_service{"service":"cardio"}'}]}
