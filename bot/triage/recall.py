"""The recall safety net: a small classifier of emergency categories, behind the rules.

The rules (lexicon + red flags) are explainable but only know the wordings someone wrote down.
This net is trained on many paraphrases per emergency category (`data/recall_examples.yml`,
written from category descriptions, never from the blind test corpus) plus a large `none` class
of lookalikes, negations, past history, questions and requests, so it recognises an emergency
worded in a way the rules never saw. It never decides a level by itself: when it recognises an
emergency that no red flag caught, the engine asks the patient one targeted yes/no question
(`data/recall.yml`); "yes" raises the level to that category's red flag, "no" leaves it.

Why naive Bayes over character n-grams: patients misspell, conjugate and abbreviate ("il respir
pa", "jsui tt bleu"); n-grams of the stemmed tokens see through that without a lemmatiser, and
the model trains in a fraction of a second at start-up from the YAML file (nothing to download,
nothing binary to ship), and classifies a message in about a millisecond.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .text import stem, tokenize

DATA = Path(__file__).resolve().parent / "data"
NONE = "none"
MAX_TOKENS = 400  # a pasted document is cut: the net looks at what a patient types, not at essays
MIN_WORDS = 2


@dataclass(frozen=True)
class RecallCategory:
    code: str
    confirms: tuple[str, ...]  # concepts that count once the patient answers "yes"
    direct: tuple[str, ...]  # concepts that count at once (dark thoughts: 3114 without a question)
    question: dict[str, str]


@dataclass(frozen=True)
class RecallHit:
    category: RecallCategory
    margin: float  # log-odds of the category over `none`


def features(text: str) -> Counter[str]:
    """Word stems, stem bigrams and character 3-5-grams of each stem."""
    words = [stem(t) for t in tokenize(text)[:MAX_TOKENS] if t[:1].isalnum()]
    found: Counter[str] = Counter()
    for i, word in enumerate(words):
        found["w:" + word] += 1
        if i:
            found["b:" + words[i - 1] + "_" + word] += 1
        padded = f" {word} "
        for n in (3, 4, 5):
            for j in range(len(padded) - n + 1):
                found["c:" + padded[j : j + n]] += 1
    return found


class RecallNet:
    """Multinomial naive Bayes with Laplace smoothing over `features()`."""

    def __init__(self, examples: dict[str, list[str]], categories: dict[str, RecallCategory], min_margin: float):
        self.categories = categories
        self.min_margin = min_margin
        counts: dict[str, Counter[str]] = {}
        self.priors: dict[str, float] = {}
        total_docs = sum(len(v) for v in examples.values())
        vocabulary: set[str] = set()
        for label, texts in examples.items():
            c: Counter[str] = Counter()
            for text in texts:
                c.update(features(text))
            counts[label] = c
            vocabulary.update(c)
            # Equal priors for the emergency categories would make the rare ones fire too easily;
            # the training share is a fair stand-in for how often each wording family appears.
            self.priors[label] = math.log(len(texts) / total_docs)
        size = len(vocabulary)
        self.log_prob: dict[str, dict[str, float]] = {}
        self.unseen: dict[str, float] = {}
        for label, c in counts.items():
            denominator = sum(c.values()) + size
            self.log_prob[label] = {f: math.log((n + 1) / denominator) for f, n in c.items()}
            self.unseen[label] = math.log(1 / denominator)
        self.vocabulary = frozenset(vocabulary)

    def scores(self, text: str) -> dict[str, float]:
        found = {f: n for f, n in features(text).items() if f in self.vocabulary}
        out: dict[str, float] = {}
        for label, table in self.log_prob.items():
            unseen = self.unseen[label]
            out[label] = self.priors[label] + sum(n * table.get(f, unseen) for f, n in found.items())
        return out

    def classify(self, text: str) -> RecallHit | None:
        """The emergency category the message most resembles, if it beats `none` clearly."""
        # A code, a number, "ok" or an emoji says nothing the net could recognise.
        if sum(1 for t in tokenize(text[:2000]) if t.isalpha() and len(t) > 1) < MIN_WORDS:
            return None
        scores = self.scores(text)
        if not scores:
            return None
        best = max((label for label in scores if label != NONE), key=lambda label: scores[label])
        # Per-feature normalisation: long messages multiply log-likelihoods, and the margin
        # must mean the same for three words and for three paragraphs.
        n = max(1, sum(features(text).values()))
        margin = (scores[best] - scores[NONE]) / math.sqrt(n)
        if margin < self.min_margin or best not in self.categories:
            return None
        return RecallHit(self.categories[best], margin)


def _load(name: str) -> Any:
    with open(DATA / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_recall(known_concepts: set[str] | None = None) -> RecallNet:
    config = _load("recall.yml")
    data = _load("recall_examples.yml")
    examples: dict[str, list[str]] = {}
    for label, by_lang in data["categories"].items():
        # `none` and its extensions (`none_everyday`…) are one class: not an emergency.
        key = NONE if label.startswith(NONE) else label
        examples.setdefault(key, []).extend([*by_lang.get("fr", []), *by_lang.get("en", [])])
    if NONE not in examples:
        raise ValueError("recall_examples.yml needs a `none` class")
    categories: dict[str, RecallCategory] = {}
    for code, spec in config["categories"].items():
        if code not in examples:
            raise ValueError(f"recall.yml: no examples for {code!r}")
        confirms = tuple(spec.get("confirms", []))
        direct = tuple(spec.get("direct", []))
        for concept in (*confirms, *direct):
            if known_concepts is not None and concept not in known_concepts:
                raise ValueError(f"recall.yml {code}: unknown concept {concept!r}")
        question = dict(spec["question"])
        if set(question) != {"fr", "en"}:
            raise ValueError(f"recall.yml {code}: the question needs fr and en")
        categories[code] = RecallCategory(code, confirms, direct, question)
    missing = set(examples) - set(categories) - {NONE}
    if missing:
        raise ValueError(f"recall.yml: categories without a question: {sorted(missing)}")
    return RecallNet(examples, categories, float(config["min_margin"]))


_LOCK = threading.Lock()
_NET: RecallNet | None = None


def recall_net() -> RecallNet:
    global _NET
    if _NET is None:
        with _LOCK:
            if _NET is None:
                from .rules import rules

                _NET = load_recall(set(rules().concepts))
    return _NET
