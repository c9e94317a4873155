"""The red-flag screen every patient message goes through before anything else.

It must never cost a patient their answer: if the screen itself fails, the message still goes
on, and the reply carries the emergency numbers (see message_path.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScreenResult:
    red_flags: list[str] = field(default_factory=list)  # emergency care now (15 or the ED)
    concerns: list[str] = field(default_factory=list)  # care and a helpline (dark thoughts: 3114)
    to_confirm: bool = False  # a possible emergency the orientation must ask about
    failed: bool = False

    @property
    def needs_orientation(self) -> bool:
        """Not an emergency for sure, but the orientation must take the message, whatever the
        classifier would have made of it: never silence for a possible emergency."""
        return not self.red_flags and (bool(self.concerns) or self.to_confirm)


def screen(text: str, language: str) -> ScreenResult:
    try:
        from bot.triage import screen_message

        found = screen_message(text, language)
        return ScreenResult(
            red_flags=[flag.code for flag in found.urgent],
            concerns=[flag.code for flag in found.concerns],
            to_confirm=found.to_confirm,
        )
    except Exception:  # the screen failing must degrade to "show the numbers", never to silence
        log.exception("red-flag screen failed")
        return ScreenResult(failed=True)
