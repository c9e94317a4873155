"""Is a mention affirmed, for the patient (or someone with them), now?

"je n'ai pas de douleur à la poitrine", "si j'ai de la fièvre après l'opération", "mon père a fait
un AVC l'an dernier" mention red-flag words without describing an emergency. Each mention found
by the lexicon gets four qualifiers:

- negated      French: edsnlp `eds.negation`; English: ConText-style triggers (data/qualifiers.yml)
- hypothetical French: edsnlp `eds.hypothesis` restricted to *conditional* cues ("si", "au cas où");
               English: ConText triggers ("if", "in case"). Uncertainty ("je crois que je fais un
               AVC", "I think I'm having a heart attack") is deliberately NOT a hypothesis here:
               for a patient it still describes what is happening.
- family       French: edsnlp `eds.family`; English: ConText experiencer triggers.
- history      a past-time cue ("l'an dernier", "il y a 3 ans", "last year"), or, for a relative,
               a past-tense verb ("a eu", "had"), with no recency cue ("depuis ce matin", "now").

Policy (why "family" alone does not remove a mention): a parent writes for their baby, a wife for
the husband who "ne respire plus". A relative's *current* red flag is an emergency for the person
writing. What we drop is the relative's *history*: "mon père a fait un AVC l'an dernier".

The edsnlp pipeline is slow to build (seconds), so it is built once per process, lazily, and only
run on the sentences that contain a mention.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .lexicon import Lexicon, Match
from .text import SENTENCE_END

if TYPE_CHECKING:
    from .rules import QualifierRules


@dataclass
class Mention:
    concept: str
    start: int
    end: int
    text: str
    language: str
    negated: bool = False
    hypothetical: bool = False
    family: bool = False
    history: bool = False
    cues: dict[str, list[str]] = field(default_factory=dict)

    @property
    def affirmed(self) -> bool:
        """Counts as something happening now: not negated, not conditional, not past history."""
        return not (self.negated or self.hypothetical or self.history)


# --------------------------------------------------------------------------------------------
# Cue search (used for English ConText and, in both languages, for history/recency)
# --------------------------------------------------------------------------------------------


def _sentences(tokens: list[str]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for i, tok in enumerate(tokens):
        if tok in SENTENCE_END:
            if i > start:
                spans.append((start, i))
            start = i + 1
    if start < len(tokens):
        spans.append((start, len(tokens)))
    return spans


def _clause(bounds: list[tuple[int, int]], position: int, sentence: tuple[int, int]) -> tuple[int, int]:
    """The stretch of the sentence around `position` not crossed by a termination cue."""
    left, right = sentence
    for start, end in bounds:
        if end <= position and end > left and start >= sentence[0]:
            left = end
        if start >= position and start < right and end <= sentence[1]:
            right = start
    return left, right


class CueSet:
    """Cue phrases for one language, matched with the lexicon machinery (no spelling correction)."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon

    def find(self, tokens: list[str]) -> dict[str, list[Match]]:
        found: dict[str, list[Match]] = {}
        for m in self.lexicon.find(tokens):
            found.setdefault(m.concept, []).append(m)
        # A pseudo-trigger ("pas de doute", "not only", "si mal") hides the cues it contains.
        pseudo = [m for k, ms in found.items() if k.endswith("pseudo") for m in ms]
        if pseudo:
            for kind in list(found):
                if kind.endswith("pseudo"):
                    continue
                found[kind] = [
                    m for m in found[kind] if not any(p.start <= m.start and m.end <= p.end for p in pseudo)
                ]
        return found


def _bucket(tokens: list[str], found: dict[str, list[Match]]) -> dict[tuple[int, int], dict[str, list[Match]]]:
    """Cues grouped by sentence: a mention only looks at the cues of its own sentence, which
    keeps long messages linear."""
    buckets: dict[tuple[int, int], dict[str, list[Match]]] = {}
    for kind, matches in found.items():
        for m in matches:
            buckets.setdefault(_sentence_of(tokens, m.start), {}).setdefault(kind, []).append(m)
    return buckets


def _before(cues: list[Match], mention: Mention, clause: tuple[int, int], window: int) -> list[Match]:
    return [c for c in cues if clause[0] <= c.start and c.end <= mention.start and mention.start - c.end <= window]


def _after(cues: list[Match], mention: Mention, clause: tuple[int, int], window: int) -> list[Match]:
    return [c for c in cues if c.start >= mention.end and c.end <= clause[1] and c.start - mention.end <= window]


def _within(cues: list[Match], clause: tuple[int, int], mention: Mention) -> list[Match]:
    """Cues anywhere in the clause, except inside the mention itself ("ne respire plus")."""
    return [
        c for c in cues if clause[0] <= c.start and c.end <= clause[1] and (c.end <= mention.start or c.start >= mention.end)
    ]


def _words(tokens: list[str], matches: list[Match]) -> list[str]:
    return [" ".join(tokens[m.start : m.end]) for m in matches]


class ContextQualifier:
    """ConText (Harkema et al., 2009) for English: triggers with a scope that runs to a
    termination term or punctuation, bounded to a few words."""

    def __init__(self, cues: CueSet, windows: dict[str, int]) -> None:
        self.cues = cues
        self.windows = windows

    def qualify(self, tokens: list[str], mentions: list[Mention], found: dict[str, list[Match]]) -> None:
        buckets = _bucket(tokens, found)
        for mention in mentions:
            sentence = _sentence_of(tokens, mention.start)
            found = buckets.get(sentence, {})
            bounds = [(m.start, m.end) for m in found.get("termination", [])]
            clause = _clause(bounds, mention.start, sentence)
            # the end of the clause must be searched from the end of the mention
            clause = (clause[0], _clause(bounds, mention.end, sentence)[1])
            neg = _before(found.get("negation_preceding", []), mention, clause, self.windows["negation"])
            neg += _after(found.get("negation_following", []), mention, clause, 3)
            hyp = _before(found.get("hypothesis_preceding", []), mention, clause, self.windows["hypothesis"])
            hyp += _after(found.get("hypothesis_following", []), mention, clause, 3)
            fam = _within(found.get("family", []), clause, mention)
            mention.negated = bool(neg)
            mention.hypothetical = bool(hyp)
            mention.family = bool(fam)
            mention.cues.update(negation=_words(tokens, neg), hypothesis=_words(tokens, hyp), family=_words(tokens, fam))


_SENTENCE_CACHE = threading.local()


def _sentence_of(tokens: list[str], position: int) -> tuple[int, int]:
    """The (start, end) of the sentence holding `position`. Called for every mention and cue, so
    the split of the token list being qualified is computed once (per thread)."""
    cached = getattr(_SENTENCE_CACHE, "value", None)
    if cached is None or cached[0] is not tokens:
        by_position: list[tuple[int, int]] = [(0, len(tokens))] * len(tokens)
        for start, end in _sentences(tokens):
            for i in range(start, end):
                by_position[i] = (start, end)
        # A sentence-final "." belongs to no sentence; give it the one before.
        for i in range(1, len(tokens)):
            if tokens[i] in SENTENCE_END:
                by_position[i] = by_position[i - 1]
        cached = (tokens, by_position)
        _SENTENCE_CACHE.value = cached
    if 0 <= position < len(cached[1]):
        return cached[1][position]
    return 0, len(tokens)


class QuestionQualifier:
    """French questions for information ("comment reconnaître un AVC ?", "quels sont les signes
    de…", "est-ce que la vaccination contre la méningite…"): edsnlp's hypothesis cues miss some of
    them, so the same cues are also looked for ConText-style, within the mention's clause."""

    def __init__(self, cues: CueSet | None, window: int) -> None:
        self.cues = cues  # None: a rule book without such cues (tests' small books)
        self.window = window

    def qualify(self, tokens: list[str], mentions: list[Mention]) -> None:
        if self.cues is None:
            return
        found = self.cues.find(tokens)
        if not found.get("hypothesis_preceding") and not found.get("hypothesis_following"):
            return
        buckets = _bucket(tokens, found)
        for mention in mentions:
            if mention.hypothetical or mention.concept in SUICIDE_CONCEPTS:
                continue
            sentence = _sentence_of(tokens, mention.start)
            cues = buckets.get(sentence, {})
            bounds = [(m.start, m.end) for m in cues.get("termination", [])]
            clause = (_clause(bounds, mention.start, sentence)[0], _clause(bounds, mention.end, sentence)[1])
            hyp = _before(cues.get("hypothesis_preceding", []), mention, clause, self.window)
            hyp += _after(cues.get("hypothesis_following", []), mention, clause, 3)
            if hyp:
                mention.hypothetical = True
                mention.cues.setdefault("hypothesis", []).extend(_words(tokens, hyp))


class HistoryQualifier:
    """Past history versus now, in both languages, from data/qualifiers.yml cues."""

    def __init__(self, family_history_concepts: frozenset[str]) -> None:
        self.family_history_concepts = family_history_concepts

    def qualify(self, tokens: list[str], mentions: list[Mention], found: dict[str, list[Match]]) -> None:
        buckets = _bucket(tokens, found)
        for mention in mentions:
            sentence = _sentence_of(tokens, mention.start)
            found = buckets.get(sentence, {})
            bounds = [(m.start, m.end) for m in found.get("history_termination", [])]
            clause = (_clause(bounds, mention.start, sentence)[0], _clause(bounds, mention.end, sentence)[1])
            past = _within(found.get("past_time", []), clause, mention)
            recent = _within(found.get("recent", []), clause, mention)
            family_past: list[Match] = []
            if (
                mention.family
                and mention.concept in self.family_history_concepts
                and not _within(found.get("child_relative", []), clause, mention)
            ):
                # "mon père a eu un infarctus": a relative (not a child), a past tense and a disease
                # name is family history. "my husband had chest pain and collapsed" is not: symptoms
                # are not in family_history_concepts. A parent's "mon fils a fait une convulsion"
                # is not either.
                family_past = _within(found.get("family_past_verb", []), clause, mention)
            # "rendez-vous de suivi pour mon angor stable", "renew my prescription after my heart
            # attack": a disease named in an administrative request is the reason for the visit,
            # not something happening now (a symptom in the same request still counts).
            admin: list[Match] = []
            if mention.concept in self.family_history_concepts:
                admin = _within(found.get("admin", []), sentence, mention)
            mention.history = bool(past or family_past or admin) and not recent
            mention.cues.update(history=_words(tokens, past + family_past + admin), recent=_words(tokens, recent))


# --------------------------------------------------------------------------------------------
# French: edsnlp qualifiers
# --------------------------------------------------------------------------------------------

# Bound on the work per message (a pasted document must not stall a turn).
MAX_EDS_SENTENCES = 24

_EDS_LOCK = threading.Lock()
_EDS_CACHE: dict[str, Any] = {}


def eds_pipeline(rules: QualifierRules) -> Any:
    """edsnlp blank pipeline with sentences, normalizer, negation, hypothesis and family.

    Built once per process (a few seconds: edsnlp compiles its verb conjugation tables).
    """
    key = rules.version
    pipeline = _EDS_CACHE.get(key)
    if pipeline is not None:
        return pipeline
    with _EDS_LOCK:
        pipeline = _EDS_CACHE.get(key)
        if pipeline is not None:
            return pipeline
        # edsnlp's progress bars (tqdm) would otherwise create a multiprocessing lock, which fixes
        # the process's start method to "fork"; the action server (Sanic) then refuses to start.
        from tqdm import tqdm

        tqdm.set_lock(threading.RLock())
        import edsnlp
        import edsnlp.pipes as eds
        from edsnlp.pipes.qualifiers.family import patterns as family_patterns
        from edsnlp.pipes.qualifiers.negation import patterns as negation_patterns

        fr = rules.french
        spans = {"triage": True}
        nlp = edsnlp.blank("eds")
        nlp.add_pipe(eds.sentences())
        nlp.add_pipe(eds.normalizer())
        nlp.add_pipe(
            eds.negation(
                span_getter=spans,
                explain=True,
                preceding=negation_patterns.preceding + fr["negation"]["preceding"],
                following=negation_patterns.following + fr["negation"]["following"],
                pseudo=negation_patterns.pseudo + fr["negation"]["pseudo"],
                preceding_regex=negation_patterns.preceding_regex + fr["negation"]["preceding_regex"],
            )
        )
        # Conditional cues only (see module docstring): the default list also holds
        # uncertainty words and "?", which would silence "j'ai mal à la poitrine, c'est grave ?".
        nlp.add_pipe(
            eds.hypothesis(
                span_getter=spans,
                explain=True,
                preceding=fr["hypothesis"]["preceding"],
                following=fr["hypothesis"]["following"],
                pseudo=fr["hypothesis"]["pseudo"],
                verbs_hyp=fr["hypothesis"]["verbs_hyp"],
                verbs_eds=fr["hypothesis"]["verbs_eds"],
            )
        )
        nlp.add_pipe(
            eds.family(
                span_getter=spans,
                explain=True,
                use_sections=False,
                family=family_patterns.family + fr["family"],
            )
        )
        _EDS_CACHE[key] = nlp
        return nlp


def _eds_qualify(nlp: Any, tokens: list[str], mentions: list[Mention]) -> None:
    from spacy.tokens import Doc, Span

    # Only the sentences holding a mention are processed: a 5,000-character message with one
    # symptom costs what a one-line message costs. A sentence repeated word for word (pasted
    # twice) is qualified once.
    canonical: dict[tuple[str, ...], tuple[int, int]] = {}
    sentence_of: dict[int, tuple[int, int]] = {}
    for m in mentions:
        sentence = _sentence_of(tokens, m.start)
        sentence_of[id(m)] = canonical.setdefault(tuple(tokens[sentence[0] : sentence[1]]), sentence)
    wanted = sorted(set(sentence_of.values()))[:MAX_EDS_SENTENCES]
    kept = set(wanted)
    pending = [m for m in mentions if sentence_of[id(m)] in kept]
    words: list[str] = []
    sent_starts: list[bool] = []
    offset: dict[tuple[int, int], int] = {}
    for start, end in wanted:
        offset[(start, end)] = len(words) - start
        words.extend(tokens[start:end])
        words.append(".")
        sent_starts.extend([True] + [False] * (end - start))
    # Our tokens are already lower-case and accent-free (what eds.normalizer would produce as
    # NORM) and already split into sentences, so only the qualifier components are run.
    doc = Doc(nlp.vocab, words=words, sent_starts=list[bool | int | None](sent_starts))
    def key_of(m: Mention) -> tuple[int, int]:
        own = _sentence_of(tokens, m.start)
        canon = sentence_of[id(m)]
        shift = offset[canon] + canon[0] - own[0]  # same words at the same place in the copy
        return (m.start + shift, min(m.end, own[1]) + shift)

    spans: dict[tuple[int, int], Span] = {}
    for m in pending:
        key = key_of(m)
        spans.setdefault(key, Span(doc, key[0], key[1], label="triage"))
    doc.spans["triage"] = list(spans.values())
    for _name, component in nlp.pipeline[2:]:
        doc = component(doc)
    by_key = {(s.start, s.end): s for s in doc.spans["triage"]}
    # Mentions beyond MAX_EDS_SENTENCES distinct sentences stay unqualified, i.e. affirmed: on
    # the safe side, at a bounded cost.
    for m in pending:
        span = by_key[key_of(m)]
        m.negated = bool(span._.negation) and any(_in_scope(doc, cue, span) for cue in span._.negation_cues)
        m.hypothetical = bool(span._.hypothesis)
        m.family = bool(span._.family)
        m.cues.update(
            negation=[c.text for c in span._.negation_cues],
            hypothesis=[c.text for c in span._.hypothesis_cues],
            family=[c.text for c in span._.family_cues],
        )


# A negation cue does not reach across a clause: "je sais pas quoi faire, il respire plus" and
# "non il respire pas" describe an emergency. A new subject or a conjunction between the cue and
# the symptom starts another clause (edsnlp's scope runs to the end of the sentence otherwise).
CLAUSE_BREAKS_FR = frozenset(
    "je il elle on ils elles nous vous tu mais car parce quand alors donc puis comme lorsque pourquoi quoi "
    "comment ou".split()
)


def _in_scope(doc: Any, cue: Any, span: Any) -> bool:
    if cue.end <= span.start:
        between = doc[cue.end : span.start]
    elif cue.start >= span.end:
        between = doc[span.end : cue.start]
    else:
        return True
    return not any(token.text in CLAUSE_BREAKS_FR for token in between)


NEGATIVE_WORDS = frozenset({"pas", "plus", "not", "no", "cannot", "jamais", "never", "rien", "nothing", "sans", "without", "ni", "nor"})


SUICIDE_CONCEPTS = frozenset({"suicidal", "suicide_plan", "suicide_passive"})


class Qualifier:
    """Qualifies mentions in the message language: edsnlp for French, ConText for English."""

    def __init__(self, rules: QualifierRules) -> None:
        self.rules = rules
        self.english = ContextQualifier(rules.english_cues, rules.windows)
        self.history = HistoryQualifier(rules.family_history_concepts)
        self.french_questions = QuestionQualifier(rules.french_question_cues, rules.windows["hypothesis"])

    def warm_up(self) -> None:
        eds_pipeline(self.rules)

    def qualify(self, tokens: list[str], matches: list[Match], language: str) -> list[Mention]:
        mentions = [
            Mention(m.concept, m.start, m.end, " ".join(tokens[m.start : m.end]), m.language) for m in matches
        ]
        if not mentions:
            return mentions
        if language == "fr":
            _eds_qualify(eds_pipeline(self.rules), tokens, mentions)
            self.french_questions.qualify(tokens, mentions)
            # A mixed message ("j'ai un rash après l'amoxicilline, no swelling of the face"):
            # English terms also get the English negation cues, which edsnlp does not know.
            english = [m for m in mentions if m.language == "en" and not m.negated]
            if english:
                before = {id(m): (m.hypothetical, m.family) for m in english}
                self.english.qualify(tokens, english, self.rules.english_cues.find(tokens))
                for m in english:
                    m.hypothetical, m.family = before[id(m)]
        else:
            self.english.qualify(tokens, mentions, self.rules.english_cues.find(tokens))
        self.history.qualify(tokens, mentions, self.rules.history_cues[language].find(tokens))
        for m in mentions:
            # A symptom negative in form ("il ne respire plus", "je ne sens plus mon bébé bouger",
            # "she's not responding", "arrive pas à parler") is the symptom: a negation around it
            # is part of it, not a denial.
            if m.negated and NEGATIVE_WORDS.intersection(tokens[m.start : m.end]):
                m.negated = False
            if m.concept in self.rules.current_concepts:
                m.history = False
            # Dark thoughts are dark thoughts however they are phrased: "si je ne me réveillais pas
            # demain, ce serait un soulagement" is not a hypothesis to confirm first.
            if m.concept in SUICIDE_CONCEPTS:
                m.hypothetical = False
        return mentions
