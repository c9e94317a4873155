"""One engine turn at a time per conversation, in the order the messages arrived.

Rasa takes a lock per conversation too, but a message waiting there holds an HTTP call to the
engine for as long as the turns before it take, and the order in which waiting messages get the
lock is not the order they arrived in. Queueing here, in this process, keeps a patient's replies in
order and lets a turn that must not wait (an emergency) give up its place without blocking the
rest of the line.

A ticket is taken as the message arrives (before anything is awaited, so arrival order is ticket
order) and waited on only around the engine call. A conversation's line is forgotten as soon as
nobody holds or waits for a ticket, so idle conversations cost nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Hashable
from types import TracebackType


class _Line:
    def __init__(self) -> None:
        self.issued = 0  # tickets handed out
        self.front = 0  # the ticket whose turn it is
        self.finished: set[int] = set()  # tickets done or given up, not yet reached by the front
        self.waiting: dict[int, asyncio.Future[None]] = {}


_lines: dict[Hashable, _Line] = {}


class Ticket:
    """A place in a conversation's line: `async with ticket:` waits for its turn and ends it."""

    def __init__(self, key: Hashable) -> None:
        self._key = key
        self._line = _lines.setdefault(key, _Line())
        self._number = self._line.issued
        self._line.issued += 1
        self._done = False

    async def wait(self) -> None:
        """Until every earlier message of the conversation has had its turn (or given it up)."""
        line = self._line
        if self._number == line.front or self._done:
            return
        future = line.waiting.setdefault(self._number, asyncio.get_running_loop().create_future())
        await future

    def finish(self) -> None:
        """End this turn, or give up the place (a cancelled or abandoned message): idempotent."""
        if self._done:
            return
        self._done = True
        line = self._line
        line.waiting.pop(self._number, None)
        line.finished.add(self._number)
        while line.front in line.finished:
            line.finished.discard(line.front)
            line.front += 1
        if (future := line.waiting.pop(line.front, None)) is not None and not future.done():
            future.set_result(None)
        if line.front == line.issued and _lines.get(self._key) is line:
            del _lines[self._key]

    async def __aenter__(self) -> Ticket:
        try:
            await self.wait()
        except BaseException:
            self.finish()
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        self.finish()


def take_ticket(key: Hashable) -> Ticket:
    return Ticket(key)


def busy_conversations() -> int:
    """How many conversations have a message in line (for tests and health)."""
    return len(_lines)
