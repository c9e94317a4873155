"""One pass over a message: language, tokens, concept mentions and their qualifiers.

Shared by the red-flag screen and the triage, and cached per (text, language): the chat screens
every message and may then triage the same one, which should not cost twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

from bot.core.language import default_language, likely_language, supported_languages

from .lexicon import Match
from .qualifiers import Mention, Qualifier
from .rules import RuleBook, rules
from .text import tokenize

# Beyond this, a message is cut: nobody describes an emergency after 20,000 characters, and the
# cost per message must stay bounded whatever is pasted in.
MAX_CHARS = 20_000

_QUALIFIER_LOCK = threading.Lock()
_QUALIFIER: Qualifier | None = None


def qualifier(book: RuleBook | None = None) -> Qualifier:
    global _QUALIFIER
    if _QUALIFIER is None:
        with _QUALIFIER_LOCK:
            if _QUALIFIER is None:
                _QUALIFIER = Qualifier((book or rules()).qualifiers)
    return _QUALIFIER


@dataclass(frozen=True)
class Analysis:
    language: str
    tokens: tuple[str, ...]
    mentions: tuple[Mention, ...]

    @property
    def affirmed(self) -> frozenset[str]:
        return frozenset(m.concept for m in self.mentions if m.affirmed)

    @property
    def uncertain(self) -> frozenset[str]:
        """Mentioned only as a question or a hypothesis, neither denied nor past."""
        return frozenset(m.concept for m in self.mentions if m.hypothetical and not m.negated and not m.history)

    @property
    def negated(self) -> frozenset[str]:
        return frozenset(m.concept for m in self.mentions if m.negated and not m.hypothetical)

    def texts_for(self, concepts: set[str] | frozenset[str]) -> list[str]:
        seen: list[str] = []
        for m in self.mentions:
            if m.affirmed and m.concept in concepts and m.text not in seen:
                seen.append(m.text)
        return seen


def _apply_masks(matches: list[Match], masks: dict[str, tuple[str, ...]]) -> list[Match]:
    """'bouton de fièvre' hides the 'fièvre' inside it; 'mal au cœur' hides a chest pain."""
    hidden: set[int] = set()
    for m in matches:
        for masked in masks.get(m.concept, ()):
            for j, other in enumerate(matches):
                if other.concept == masked and other.start < m.end and m.start < other.end:
                    hidden.add(j)
    return [m for i, m in enumerate(matches) if i not in hidden]


@lru_cache(maxsize=512)
def analyse(text: str, language: str | None = None) -> Analysis:
    book = rules()
    text = text[:MAX_CHARS]
    raw_tokens = tokenize(text)
    lang = language if language in supported_languages() else likely_language(text, default_language(), raw_tokens)
    tokens = book.lexicon.correct(raw_tokens)
    matches = _apply_masks(book.lexicon.find(tokens), book.masks)
    mentions = qualifier(book).qualify(tokens, matches, lang)
    return Analysis(lang, tuple(tokens), tuple(mentions))
