"""Which language to answer in.

The conversation keeps its language; a message changes it only when it clearly is in the other
supported language, or asks for it. "ok", "oui", "3" or an emoji never switch.
"""

from __future__ import annotations

import re
from functools import lru_cache

from langdetect import DetectorFactory, LangDetectException, detect_langs

from bot.core.datafiles import fold, load

DetectorFactory.seed = 0  # langdetect is random by default; the same message must give the same answer
_WORD = re.compile(r"[a-z']+")


@lru_cache
def _rules() -> dict:
    rules = load("language")
    rules["_markers"] = {lang: frozenset(words) for lang, words in rules["markers"].items()}
    rules["_neutral"] = frozenset(rules["neutral_words"])
    return rules


def supported_languages() -> list[str]:
    return list(_rules()["supported"])


def requested_language(text: str) -> str | None:
    """The language the patient explicitly asks for ("can we speak English?"), if any."""
    folded = fold(text)
    for language, phrases in _rules()["switch_requests"].items():
        if any(phrase in folded for phrase in phrases):
            return language
    return None


def detect_language(text: str) -> str | None:
    """The supported language this text is clearly written in, or None when it can't be told."""
    rules = _rules()
    folded = fold(text)
    words = _WORD.findall(folded)
    meaningful = [w for w in words if w not in rules["_neutral"]]
    if len(meaningful) < rules["min_words_to_detect"] and len(words) < rules["min_words_to_detect"] + 1:
        return None
    scores = {lang: sum(w in markers for w in words) for lang, markers in rules["_markers"].items()}
    best, runner_up = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:2]
    # Function words decide SMS-style text, where langdetect is unreliable.
    if best[1] >= 2 and best[1] >= 2 * runner_up[1]:
        return best[0]
    try:
        guesses = detect_langs(text)
    except LangDetectException:
        return None
    for guess in guesses:
        if guess.lang in rules["supported"] and guess.prob >= 0.85:
            return guess.lang
    return None


def greeting_language(text: str) -> str | None:
    """The language of a message that opens with a greeting of one language only."""
    folded = " ".join(_WORD.findall(fold(text)))
    found = {
        language
        for language, greetings in _rules()["greetings"].items()
        if any(folded == g or folded.startswith(g + " ") for g in greetings)
    }
    return found.pop() if len(found) == 1 else None


def choose_language(text: str, current: str | None, default: str = "fr", *, first_message: bool = False) -> str:
    """The language to answer this message in, given the conversation's current one."""
    greeting = greeting_language(text) if first_message else None
    return requested_language(text) or detect_language(text) or greeting or current or default
