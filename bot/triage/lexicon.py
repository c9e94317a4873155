"""Finding symptom terms in a token list: the term patterns of `data/lexicon.yml`, compiled.

Pattern syntax (also documented at the top of lexicon.yml, for clinicians):

- words are matched after normalisation, so accents, case, elisions and SMS spellings don't matter;
- `<class>` stands for any phrase of a word class (e.g. `<pain>`: mal, douleur, hurts, ache…);
- `a|b` is one word among alternatives; `word?` is an optional word;
- `...` allows up to 3 other words in between (never across punctuation other than a comma);
- `A & B` means A and B within 4 words of each other, in either order; each side is a list of
  phrases separated by `|` ("ventoline|inhalateur & marche pas|fait rien") or a `<class>`;
- `A && B` the same within 10 words (never across punctuation).

Matching is indexed by first token, so the cost is proportional to the message length, not to the
number of patterns. Misspellings are corrected token by token against the lexicon's own words
(phonetic skeleton, then a small edit distance for long words), never towards a red-flag word
from a short word, which is where false alarms would come from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from .text import PUNCTUATION, phrase, skeleton, stem, tokenize

GAP_STOPS = PUNCTUATION - {","}
# "and" followed by a new item ("…suddenly yesterday and a headache", "…et je transpire") starts
# another finding: a term's words and its qualifiers ("sudden", "severe") never reach across it.
# "visage et mains gonflés" (two nouns sharing one adjective) is still read as one finding.
_CLAUSE_WORDS = frozenset({"mais", "but", "puis", "then"})  # always start another clause
_AND = frozenset({"et", "and"})  # only before a new subject or article
_NEW_ITEM = frozenset(
    "un une je il elle on mon ma mes des du puis aussi ca a an i my he she then also his her it we they".split()
)


def _breaks_clause(tokens: list[str], i: int) -> bool:
    """Does tokens[i] start a new clause or item (a conjunction before a new subject or article)?"""
    token = tokens[i]
    if token in _CLAUSE_WORDS:
        return True
    return token in _AND and i + 1 < len(tokens) and tokens[i + 1] in _NEW_ITEM

COMMON_WORDS = frozenset(
    "je j ne n pas de d le l la les a au aux et un une des du en me se il elle est on y ai suis mon ma "
    "mes plus que qui i my the and to of not is it in on at a an am are have has be been no do".split()
)

GAP = 3
NEAR = 4
FAR = 10

# Built-in word classes that are not lists: <number> (digits or number words), <year>, <many> (10+).
_NUMBER_WORDS = (
    "un une deux trois quatre cinq six sept huit neuf dix onze douze quinze vingt trente quarante "
    "cinquante quelques plusieurs one two three four five six seven eight nine ten eleven twelve "
    "fifteen twenty thirty forty fifty few several couple".split()
)
NUMBER_WORDS = frozenset(_NUMBER_WORDS) | frozenset(stem(w) for w in _NUMBER_WORDS)
SPECIALS = {
    "number": lambda t: t[:1].isdigit() or t in NUMBER_WORDS,
    "year": lambda t: len(t) == 4 and t.isdigit() and t[:2] in ("19", "20"),
    "many": lambda t: t.isdigit() and 10 <= int(t) < 1900,  # "20 comprimés": an overdose, not a dose
}


@dataclass(frozen=True)
class Element:
    """One position of a pattern: a set of alternative token sequences, or a gap."""

    options: frozenset[tuple[str, ...]] = frozenset()
    optional: bool = False
    gap: int = 0  # > 0: skip up to this many words
    special: str = ""  # "number" or "year"
    lengths: tuple[int, ...] = ()  # option lengths, longest first (filled in by __post_init__)
    firsts: frozenset[str] = frozenset()  # first words of the options (filled in by __post_init__)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lengths", tuple(sorted({len(o) for o in self.options}, reverse=True)))
        object.__setattr__(self, "firsts", frozenset(o[0] for o in self.options))


@dataclass(frozen=True)
class Pattern:
    concept: str
    language: str
    source: str
    elements: tuple[Element, ...]


@dataclass(frozen=True)
class Match:
    concept: str
    start: int  # token index, inclusive
    end: int  # token index, exclusive
    language: str
    source: str


class PatternError(ValueError):
    pass


def _compile_item(item: str, classes: dict[str, frozenset[tuple[str, ...]]]) -> Element:
    optional = item.endswith("?") and len(item) > 1
    if optional:
        item = item[:-1]
    if item == "...":
        return Element(gap=GAP)
    if item.startswith("<") and item.endswith(">") and item[1:-1] in SPECIALS:
        return Element(special=item[1:-1], optional=optional)
    options_set: set[tuple[str, ...]] = set()
    for alt in item.split("|"):
        if alt.startswith("<") and alt.endswith(">"):
            if alt[1:-1] not in classes:
                raise PatternError(f"unknown word class {alt}")
            options_set |= classes[alt[1:-1]]
        elif phrase(alt):
            options_set.add(phrase(alt))
    options = frozenset(options_set)
    if not options:
        raise PatternError(f"empty item {item!r}")
    return Element(options=options, optional=optional)


def _compile_side(side: str, classes: dict[str, frozenset[tuple[str, ...]]]) -> Element:
    """One side of `A & B`: phrases separated by | ("marche pas|fait rien"), or <class> names."""
    options: set[tuple[str, ...]] = set()
    for alt in side.split("|"):
        alt = alt.strip()
        if alt.startswith("<") and alt.endswith(">"):
            if alt[1:-1] not in classes:
                raise PatternError(f"unknown word class {alt}")
            options |= classes[alt[1:-1]]
        elif "<" in alt or "..." in alt:
            raise PatternError(f"{side!r}: a side of '&' holds phrases or one <class>, not a sequence")
        elif phrase(alt):
            options.add(phrase(alt))
    if not options:
        raise PatternError(f"empty side {side!r}")
    return Element(options=frozenset(options))


def compile_pattern(
    text: str, concept: str, language: str, classes: dict[str, frozenset[tuple[str, ...]]]
) -> list[Pattern]:
    """One YAML pattern string becomes one or two compiled patterns (two for `A & B`)."""
    if " & " in text or " && " in text:
        far = " && " in text
        sides = [part.strip() for part in text.split(" && " if far else " & ")]
        if len(sides) != 2 or "&" in sides[0] + sides[1]:
            raise PatternError(f"pattern {text!r}: only one '&' is allowed")
        near = Element(gap=FAR if far else NEAR)
        a, b = (_compile_side(side, classes) for side in sides)
        variants: list[tuple[Element, ...]] = [(a, near, b), (b, near, a)]
    else:
        variants = [tuple(_compile_item(i, classes) for i in text.split())]
    for elements in variants:
        if not elements or elements[0].gap or elements[0].optional:
            raise PatternError(f"pattern {text!r} must start with a required word")
    return [Pattern(concept, language, text, elements) for elements in variants]


class Lexicon:
    """All compiled term patterns, indexed by their possible first token."""

    def __init__(
        self,
        patterns: Iterable[Pattern],
        protected: Iterable[str] = (),
        *,
        words: Iterable[str] = (),
        correct_spelling: bool = True,
    ) -> None:
        self.patterns = list(patterns)
        self.correct_spelling = correct_spelling
        self._index: dict[str, list[int]] = {}
        # Anchor: the element of a pattern with the fewest possible first words. A pattern can
        # only match if one of its anchor words is in the message, which rules most patterns out
        # before any matching is tried (long messages hit the common words "mal", "je", "de"…).
        self._anchors: dict[str, list[int]] = {}
        self._unanchored: set[int] = set()
        self._required: list[tuple[frozenset[str], ...]] = []
        vocabulary: set[str] = set()
        for pid, pattern in enumerate(self.patterns):
            if pattern.elements[0].special:
                self._index.setdefault("<" + pattern.elements[0].special + ">", []).append(pid)
            for first in pattern.elements[0].options:
                self._index.setdefault(first[0], []).append(pid)
            for element in pattern.elements:
                for option in element.options:
                    vocabulary.update(option)
            required = [e for e in pattern.elements if e.options and not e.optional]
            self._required.append(tuple(e.firsts for e in required))
            if required:
                # Prefer an anchor made of uncommon words: "le"/"ne" are in every long message.
                anchor = min(required, key=lambda e: (not e.firsts.isdisjoint(COMMON_WORDS), len(e.firsts)))
                for word in {o[0] for o in anchor.options}:
                    self._anchors.setdefault(word, []).append(pid)
            else:
                self._unanchored.add(pid)
        self.vocabulary = frozenset(vocabulary)
        # Words that are real words the lexicon must never "correct" (e.g. soigne ≠ saigne).
        self.protected = frozenset(t for w in protected for t in tokenize(w)) | frozenset(
            stem(t) for w in protected for t in tokenize(w)
        )
        # Misspellings are corrected against the terms' whole words, as written (not their stems:
        # stems are short and many share a phonetic key, "connues" would become "confus").
        self.words = frozenset(words) or self.vocabulary
        # Sorted: which word a skeleton keeps, and which candidate wins a tie, must not depend on
        # the process's hash seed (it did: one message got the ED in one process, an appointment in another).
        long_words = sorted(w for w in self.words if len(w) >= 5 and w.isalpha())
        self._by_skeleton: dict[str, str] = {}
        ambiguous: set[str] = set()
        for word in long_words:
            key = skeleton(word)
            if key in self._by_skeleton and stem(self._by_skeleton[key]) != stem(word):
                ambiguous.add(key)
            self._by_skeleton.setdefault(key, word)
        for key in ambiguous:
            del self._by_skeleton[key]
        # Typos land in the middle or at the end of a word far more than in its first letters:
        # only words that start like the token are candidates ("lollies" is not "lochies").
        self._skeletons_by_initial: dict[str, list[str]] = {}
        for key in self._by_skeleton:
            self._skeletons_by_initial.setdefault(key[:2], []).append(key)
        self._key = lru_cache(maxsize=32768)(self._key_uncached)

    # -- misspellings -------------------------------------------------------------------------
    def _key_uncached(self, token: str) -> str:
        """What a message token is matched as: its stem, or, for a misspelled long word, the stem
        of the lexicon word it is closest to."""
        stemmed = stem(token)
        if (
            not self.correct_spelling
            or len(token) < 5
            or not token.isalpha()
            or stemmed in self.vocabulary
            or token in self.words
            or token in self.protected
            or stemmed in self.protected
        ):
            return stemmed
        # A dropped final g ("coughin", "droolin", "touchin"): the -ing word of the lexicon.
        if token.endswith("in") and stem(token + "g") in self.vocabulary:
            return stem(token + "g")
        # An elision typed without its apostrophe: "dacide", "lhero", "depilepsie", "deau".
        if token[0] in "dlsjmnt" and token[1] in "aeiouyh":
            rest = stem(token[1:])
            if rest in self.vocabulary:
                return rest
        key = skeleton(token)
        if key in self._by_skeleton:
            return stem(self._by_skeleton[key])
        # Edit distance only for long words (short words are too often other real words), and one
        # edit at most: two turned "consulting" into "convulsing".
        if len(token) < 7:
            return stemmed
        limit = 1
        choices = self._skeletons_by_initial.get(key[:2], ())
        best = process.extractOne(key, choices, scorer=Levenshtein.distance, score_cutoff=limit)
        if best is None:
            return stemmed
        return stem(self._by_skeleton[best[0]])

    def correct(self, tokens: list[str]) -> list[str]:
        """Misspelled long words replaced by the (stemmed) lexicon word they stand for; every
        other token as it was."""
        out = []
        for token in tokens:
            key = self._key(token)
            out.append(token if key == stem(token) else key)
        return out

    # -- matching -----------------------------------------------------------------------------
    def find(self, tokens: list[str]) -> list[Match]:
        """Every concept mention, longest match per pattern and start position."""
        tokens = [self._key(t) for t in tokens]
        found: dict[tuple[str, int, int], Match] = {}
        present = set(tokens)
        candidates_by_anchor: set[int] = set(self._unanchored)
        for word in present:
            candidates_by_anchor.update(self._anchors.get(word, ()))
        # Keep the patterns whose every required part can be found somewhere in the message.
        viable = {pid for pid in candidates_by_anchor if all(not f.isdisjoint(present) for f in self._required[pid])}
        if not viable:
            return []
        specials = [(name, test, self._index[f"<{name}>"]) for name, test in SPECIALS.items() if f"<{name}>" in self._index]
        for start, token in enumerate(tokens):
            candidates = self._index.get(token, [])
            for _name, test, extra in specials:
                if test(token):
                    candidates = candidates + extra
            for pid in candidates:
                if pid not in viable:
                    continue
                pattern = self.patterns[pid]
                end = _match(pattern.elements, 0, tokens, start)
                if end is not None:
                    key = (pattern.concept, start, end)
                    found.setdefault(key, Match(pattern.concept, start, end, pattern.language, pattern.source))
        return _drop_nested(list(found.values()))


def _match(elements: tuple[Element, ...], i: int, tokens: list[str], pos: int) -> int | None:
    """End position of the longest match of elements[i:] at tokens[pos:], or None."""
    if i == len(elements):
        return pos
    element = elements[i]
    if element.special:
        if pos < len(tokens) and SPECIALS[element.special](tokens[pos]):
            end = _match(elements, i + 1, tokens, pos + 1)
            if end is not None:
                return end
        return _match(elements, i + 1, tokens, pos) if element.optional else None
    if element.gap:
        following = elements[i + 1] if i + 1 < len(elements) else None
        if following is not None and following.options and not following.optional:
            # Cheap look-ahead: is any word that can follow the gap within reach at all?
            window = tokens[pos : pos + element.gap + 1]
            if following.firsts.isdisjoint(window):
                return None
        # Try the shortest gap first: the nearest completion is the natural reading.
        for skip in range(element.gap + 1):
            # A comma may sit inside a gap ("red, warm, swollen"), not a sentence break.
            if skip and (
                pos + skip - 1 >= len(tokens) or tokens[pos + skip - 1] in GAP_STOPS or _breaks_clause(tokens, pos + skip - 1)
            ):
                break
            end = _match(elements, i + 1, tokens, pos + skip)
            if end is not None:
                return end
        return None
    for n in element.lengths:
        if pos + n <= len(tokens) and tuple(tokens[pos : pos + n]) in element.options:
            end = _match(elements, i + 1, tokens, pos + n)
            if end is not None:
                return end
    if element.optional:
        return _match(elements, i + 1, tokens, pos)
    return None


def _drop_nested(matches: list[Match]) -> list[Match]:
    """For one concept, a mention inside a longer mention of the same concept adds nothing."""
    matches.sort(key=lambda m: (m.concept, m.start, -(m.end - m.start)))
    kept: list[Match] = []
    reach: dict[str, int] = {}  # per concept, the furthest end of a kept mention
    for m in matches:
        # Sorted by start then length: m is inside an earlier mention iff one reaches past it.
        if reach.get(m.concept, -1) >= m.end:
            continue
        kept.append(m)
        reach[m.concept] = max(reach.get(m.concept, -1), m.end)
    kept.sort(key=lambda m: (m.start, m.end))
    return kept
