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

import numpy as np
import yaml

from .text import stem, tokenize

DATA = Path(__file__).resolve().parent / "data"
NONE = "none"
MAX_TOKENS = 200  # a pasted document is cut: the net looks at what a patient types, not at essays
MIN_WORDS = 2
EXAMPLE_FILES = ("recall_examples.yml", "recall_examples_dev.yml")


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
    """Multinomial naive Bayes with Laplace smoothing over `features()`.

    The log-probabilities are one float32 matrix (feature × category), so classifying a message
    is one gather and one sum, whatever the number of categories."""

    def __init__(self, examples: dict[str, list[str]], categories: dict[str, RecallCategory], min_margin: float):
        self.categories = categories
        self.min_margin = min_margin
        self.labels = sorted(examples)
        counts: dict[str, Counter[str]] = {}
        total_docs = sum(len(v) for v in examples.values())
        for label, texts in examples.items():
            c: Counter[str] = Counter()
            for text in texts:
                c.update(features(text))
            counts[label] = c
        vocabulary = sorted(set().union(*counts.values()))
        self.index = {f: i for i, f in enumerate(vocabulary)}
        table = np.zeros((len(vocabulary), len(self.labels)), dtype=np.float32)
        for j, label in enumerate(self.labels):
            c = counts[label]
            denominator = sum(c.values()) + len(vocabulary)
            table[:, j] = np.log(1 / denominator)
            for f, n in c.items():
                table[self.index[f], j] = math.log((n + 1) / denominator)
        self.table = table
        # The training share of each category stands in for how often its wordings appear: equal
        # priors would make the rare categories fire too easily.
        self.priors = np.array([math.log(len(examples[label]) / total_docs) for label in self.labels], dtype=np.float64)
        self.none = self.labels.index(NONE)

    def scores(self, found: Counter[str]) -> np.ndarray:
        known = [(self.index[f], n) for f, n in found.items() if f in self.index]
        if not known:
            return self.priors.copy()
        rows = np.fromiter((i for i, _ in known), dtype=np.int64, count=len(known))
        weights = np.fromiter((n for _, n in known), dtype=np.float64, count=len(known))
        return self.priors + weights @ self.table[rows].astype(np.float64)

    def classify(self, text: str) -> RecallHit | None:
        """The emergency category the message most resembles, if it beats `none` clearly."""
        found = features(text)
        # A code, a number, "ok" or an emoji says nothing the net could recognise.
        words = sum(n for f, n in found.items() if f.startswith("w:") and f[2:].isalpha() and len(f) > 3)
        if words < MIN_WORDS:
            return None
        scores = self.scores(found)
        ranked = [j for j in np.argsort(-scores) if j != self.none]
        best = self.labels[ranked[0]]
        # Per-feature normalisation: long messages multiply log-likelihoods, and the margin
        # must mean the same for three words and for three paragraphs.
        margin = float(scores[ranked[0]] - scores[self.none]) / math.sqrt(max(1, sum(found.values())))
        if margin < self.min_margin or best not in self.categories:
            return None
        return RecallHit(self.categories[best], margin)


def _load(name: str) -> Any:
    with open(DATA / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def load_recall(known_concepts: set[str] | None = None) -> RecallNet:
    config = _load("recall.yml")
    examples: dict[str, list[str]] = {}
    # The written paraphrases, and the blind corpus's dev part (recall_examples_dev.yml): real
    # patients' style, never its test part.
    for name in EXAMPLE_FILES:
        for label, by_lang in _load(name)["categories"].items():
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
