"""Stand-ins for the engine, for tests that exercise the back office alone."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from bot.conversation import engine


class FakeEngine:
    """Records what the back office sends to Rasa and answers like the gateway does.

    `delay`: seconds each call takes (a slow engine); `hang`: calls never end until cancelled (a
    frozen engine). `max_concurrent` is the most calls seen at once for any one conversation, and
    `cancelled` how many calls were abandoned by the back office.
    """

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.down = False
        self.delay = 0.0
        self.hang = False
        self.cancelled = 0
        self.max_concurrent = 0
        self._active: Counter[str] = Counter()

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        self.received.append({"sender": conversation_id, "text": text, "metadata": metadata})
        if self.down:
            raise engine.EngineUnavailable("fake engine is down")
        if self.delay or self.hang:
            self._active[conversation_id] += 1
            self.max_concurrent = max(self.max_concurrent, self._active[conversation_id])
            try:
                await asyncio.sleep(3600 if self.hang else self.delay)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
            finally:
                self._active[conversation_id] -= 1
        return [{"recipient_id": conversation_id, **self.reply(text, metadata)}]

    def reply(self, text: str, metadata: dict[str, Any]) -> dict[str, Any]:
        return {"text": f"echo: {text[:50]}",
                "buttons": [{"title": "Cardiologie", "payload": '/inform_service{"service":"cardio"}'}]}
