"""The red-flag screen every patient message goes through before anything else.

It must never cost a patient their answer: if the screen itself fails, the message still goes
on, and the reply carries the emergency numbers (see chat.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScreenResult:
    red_flags: list[str] = field(default_factory=list)
    failed: bool = False

    @property
    def is_emergency(self) -> bool:
        return bool(self.red_flags)


def screen(text: str, language: str) -> ScreenResult:
    try:
        from bot.triage import red_flags_in

        return ScreenResult(red_flags=[flag.code for flag in red_flags_in(text, language)])
    except Exception:  # the screen failing must degrade to "show the numbers", never to silence
        log.exception("red-flag screen failed")
        return ScreenResult(failed=True)
