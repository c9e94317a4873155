"""Which language a text is in, and which language to answer in: the one language detector.

The conversation keeps its language; a message changes it only when it clearly is in the other
supported language, or asks for it. "ok", "oui", "3" or an emoji never switch. The triage, which
only needs a best guess for a text whose language nobody gave, asks `likely_language`: the same
marker words, decided by a plain majority (microseconds, and steadier than langdetect on the
three-word messages patients send: "mal o ventre", "chest pain").

The languages themselves are declared once, in `language.yml` (`supported`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from langdetect import DetectorFactory, LangDetectException, detect_langs
from pydantic import BaseModel, ConfigDict, Field, model_validator

from bot.core.datafiles import fold, load

DetectorFactory.seed = 0  # langdetect is random by default; the same message must give the same answer
_WORD = re.compile(r"[a-z']+")
_FRENCH_LETTERS = frozenset("éèêàùçôîâœ")


class LanguageRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    supported: tuple[str, ...] = Field(min_length=1)
    names: dict[str, str]
    switch_requests: dict[str, tuple[str, ...]]
    min_words_to_detect: int = Field(ge=1)
    neutral_words: frozenset[str]
    greetings: dict[str, tuple[str, ...]]
    markers: dict[str, frozenset[str]]

    @model_validator(mode="after")
    def _every_language_described(self) -> LanguageRules:
        for name in ("names", "switch_requests", "greetings", "markers"):
            if set(getattr(self, name)) != set(self.supported):
                raise ValueError(f"{name} must list exactly the supported languages {list(self.supported)}")
        return self


@lru_cache
def _rules() -> LanguageRules:
    return LanguageRules.model_validate(load("language"))


def supported_languages() -> list[str]:
    return list(_rules().supported)


def language_names() -> dict[str, str]:
    """Each supported language's name in itself, in declaration order."""
    names = _rules().names
    return {code: names[code] for code in _rules().supported}


def default_language() -> str:
    """The hospital's own language: the first one declared."""
    return _rules().supported[0]


def requested_language(text: str) -> str | None:
    """The language the patient explicitly asks for ("can we speak English?"), if any."""
    folded = fold(text)
    for language, phrases in _rules().switch_requests.items():
        if any(phrase in folded for phrase in phrases):
            return language
    return None


def _marker_scores(words: Sequence[str]) -> list[tuple[str, int]]:
    """Marker words per language, best first (ties in declaration order: the hospital's language first)."""
    scores = [(lang, sum(w in markers for w in words)) for lang, markers in _rules().markers.items()]
    return sorted(scores, key=lambda kv: kv[1], reverse=True)


def detect_language(text: str) -> str | None:
    """The supported language this text is clearly written in, or None when it can't be told."""
    rules = _rules()
    words = _WORD.findall(fold(text))
    meaningful = [w for w in words if w not in rules.neutral_words]
    if len(meaningful) < rules.min_words_to_detect and len(words) < rules.min_words_to_detect + 1:
        return None
    best, runner_up = [*_marker_scores(words), ("", 0)][:2]  # one language declared: no runner-up
    # Function words decide SMS-style text, where langdetect is unreliable.
    if best[1] >= 2 and best[1] >= 2 * runner_up[1]:
        return best[0]
    try:
        guesses = detect_langs(text)
    except LangDetectException:
        return None
    for guess in guesses:
        if guess.lang in rules.supported and guess.prob >= 0.85:
            return str(guess.lang)
    return None


def likely_language(text: str, default: str, tokens: Sequence[str] | None = None) -> str:
    """The best guess, never None: more marker words wins, French letters count for French, a tie
    keeps `default`. `tokens` (lower-cased, accent-free words) may be passed to avoid tokenizing twice."""
    words = _WORD.findall(fold(text[:2000])) if tokens is None else tokens[:400]
    scores = dict(_marker_scores(words))
    if "fr" in scores and any(c in _FRENCH_LETTERS for c in text[:2000]):
        scores["fr"] += 2
    (best, top), (_, second) = [*sorted(scores.items(), key=lambda kv: kv[1], reverse=True), ("", 0)][:2]
    return best if top > second else default


def greeting_language(text: str) -> str | None:
    """The language of a message that opens with a greeting of one language only."""
    folded = " ".join(_WORD.findall(fold(text)))
    found = {
        language
        for language, greetings in _rules().greetings.items()
        if any(folded == g or folded.startswith(g + " ") for g in greetings)
    }
    return found.pop() if len(found) == 1 else None


def choose_language(
    text: str, current: str | None, default: str | None = None, *, first_message: bool = False
) -> str:
    """The language to answer this message in, given the conversation's current one."""
    greeting = greeting_language(text) if first_message else None
    return requested_language(text) or detect_language(text) or greeting or current or default or default_language()
