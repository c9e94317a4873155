"""Loading the clinical rules from `data/*.yml` into typed objects, validated at load time.

The YAML files are the clinical content, reviewable by clinicians; this module only compiles them.
What they must hold is `schema.py`: an unknown concept, level, service or condition key fails loudly
at start-up rather than silently never matching.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel

from bot.core.numbers import emergency_numbers, fill_numbers_in

from .lexicon import Lexicon, Pattern, compile_pattern
from .qualifiers import CueSet
from .schema import (
    ComplaintsFile,
    HistoryCues,
    Language,
    Level,
    LexiconFile,
    QualifiersFile,
    QuestionsFile,
    RedFlagsFile,
    RulesError,
    RuleSpec,
    Service,
    Terms,
    TextsFile,
    check_references,
    read,
)
from .text import phrase, tokenize

DATA = Path(__file__).resolve().parent / "data"

LEVELS: tuple[str, ...] = get_args(Level)
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}
SERVICES: frozenset[str] = frozenset(get_args(Service))
LANGUAGES: tuple[Language, ...] = get_args(Language)

Localized = dict[str, str]


@dataclass(frozen=True)
class Concept:
    code: str
    label: Localized
    masks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Number:
    code: str
    number: str
    label: Localized


@dataclass(frozen=True)
class RedFlagRule:
    code: str
    level: str
    label: Localized
    rationale: str
    conditions: tuple[dict[str, Any], ...]
    service: str = "emergency"
    extra_numbers: tuple[str, ...] = ()
    advice: Localized | None = None  # what to do while help comes (CPR, adrenaline, cooling…)


@dataclass(frozen=True)
class Rule:
    when: dict[str, Any]
    level: str
    service: str | None
    because: Localized


@dataclass(frozen=True)
class Complaint:
    code: str
    triggers: tuple[str, ...]
    service: str | None
    rationale: str
    rules: tuple[Rule, ...]
    default: Rule
    secondary: bool = False  # only considered when no other complaint is active
    safety_net: Localized | None = None  # the specific signs that should make the patient call 15
    extra_numbers: tuple[str, ...] = ()  # helplines given with this complaint (low mood: 3114)


@dataclass(frozen=True)
class Modifier:
    code: str
    when: dict[str, Any]
    min_level: str
    because: Localized
    only: frozenset[str] | None = None
    except_: frozenset[str] = frozenset()

    def applies_to(self, complaint: str) -> bool:
        if self.only is not None and complaint not in self.only:
            return False
        return complaint not in self.except_


@dataclass(frozen=True)
class Option:
    value: str
    label: Localized
    sets: dict[str, Any]


@dataclass(frozen=True)
class Question:
    id: str
    fact: str
    text: Localized
    options: tuple[Option, ...]
    ask_if: dict[str, Any] | None = None
    engine_asks: bool = False  # asked by the engine itself (confirmation, suicide screener), not by trying options


@dataclass
class QualifierRules:
    version: str
    french: dict[str, Any]
    english_cues: CueSet
    windows: dict[str, int]
    history_cues: dict[str, CueSet]
    family_history_concepts: frozenset[str]
    current_concepts: frozenset[str] = frozenset()  # never past history (a treatment, a pregnancy)
    french_question_cues: CueSet | None = None  # questions for information, ConText-style


@dataclass
class RuleBook:
    versions: dict[str, str]
    concepts: dict[str, Concept]
    lexicon: Lexicon
    qualifiers: QualifierRules
    numbers: dict[str, Number]
    default_numbers: tuple[str, ...]
    red_flags: tuple[RedFlagRule, ...]
    complaints: tuple[Complaint, ...]
    modifiers: tuple[Modifier, ...]
    paediatric_age_below: float
    paediatric_services: dict[str, str]
    questions: tuple[Question, ...]
    max_questions: int
    describe: dict[str, Any]
    texts: dict[str, Any]
    masks: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return "+".join(f"{k}:{v}" for k, v in sorted(self.versions.items()))


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads `no`, `yes`, `on`, `off` as booleans: in a list of words they are words."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _read_yaml(name: str) -> Any:
    """A data file, its texts' number placeholders (%samu%…) filled from emergency_numbers.yml."""
    with open(DATA / name, encoding="utf-8") as handle:
        return fill_numbers_in(yaml.load(handle, Loader=_Loader))  # a SafeLoader subclass


def _load[M: BaseModel](name: str, schema: type[M]) -> M:
    return read(name, _read_yaml(name), schema)


def _load_lexicon(data: LexiconFile) -> tuple[dict[str, Concept], Lexicon]:
    classes = {
        name: frozenset(phrase(p) for p in (*by_lang.fr, *by_lang.en) if phrase(p)) for name, by_lang in data.classes.items()
    }
    concepts: dict[str, Concept] = {}
    patterns: list[Pattern] = []
    for code, spec in data.concepts.items():
        concepts[code] = Concept(code, {lang: spec.label.get(lang, "") for lang in LANGUAGES}, spec.masks)
        for lang, terms in spec.by_language():
            for term in terms:
                try:
                    patterns.extend(compile_pattern(term, code, lang, classes))
                except ValueError as exc:
                    raise RulesError(f"lexicon.yml: concepts.{code}: {exc}") from exc
    words = {
        token
        for spec in data.concepts.values()
        for term in (*spec.fr, *spec.en)
        for token in tokenize(re.sub(r"<[a-z]+>|\.\.\.|[|&?]", " ", term))
    } | {token for by_lang in data.classes.values() for p in (*by_lang.fr, *by_lang.en) for token in tokenize(p)}
    return concepts, Lexicon(patterns, protected=data.protected, words=words)


def _cue_set(groups: dict[str, Terms], classes: dict[str, frozenset[tuple[str, ...]]] | None = None) -> CueSet:
    patterns: list[Pattern] = []
    for kind, terms in groups.items():
        for term in terms:
            patterns.extend(compile_pattern(term, kind, "", classes or {}))
    return CueSet(Lexicon(patterns, correct_spelling=False))


def _history_cues(cues: HistoryCues) -> CueSet:
    return _cue_set(
        {
            "past_time": cues.past_time,
            "family_past_verb": cues.family_past_verb,
            "recent": cues.recent,
            "child_relative": cues.child_relative,
            "history_termination": cues.termination,
            "admin": cues.admin,
        }
    )


def _tokenized(terms: Terms) -> list[str]:
    return [" ".join(tokenize(term)) for term in terms]


def _load_qualifiers(data: QualifiersFile) -> QualifierRules:
    en = data.en
    english = _cue_set(
        {
            "negation_preceding": en.negation.preceding,
            "negation_following": en.negation.following,
            "negation_pseudo": en.negation.pseudo,
            "hypothesis_preceding": en.hypothesis.preceding,
            "hypothesis_following": en.hypothesis.following,
            "hypothesis_pseudo": en.hypothesis.pseudo,
            "family": en.family,
            "termination": en.termination,
        }
    )
    history = data.history
    negation, hypothesis = data.fr.negation, data.fr.hypothesis
    # edsnlp matches its terms on its own normalisation of the text we give it; ours is already
    # accent-free and elision-expanded, so terms are passed through the same tokenizer.
    french = {
        "negation": {
            "preceding": _tokenized(negation.preceding),
            "following": _tokenized(negation.following),
            "pseudo": _tokenized(negation.pseudo),
            "preceding_regex": list(negation.preceding_regex),
        },
        "hypothesis": {
            "preceding": _tokenized(hypothesis.preceding),
            "following": _tokenized(hypothesis.following),
            "pseudo": _tokenized(hypothesis.pseudo),
            "verbs_hyp": list(hypothesis.verbs_hyp),
            "verbs_eds": list(hypothesis.verbs_eds),
        },
        "family": _tokenized(data.fr.family),
    }
    french_questions = _cue_set(
        {
            "hypothesis_preceding": tuple(t for t in hypothesis.preceding if t not in ("si", "s il", "et si", "risque de")),
            "hypothesis_following": hypothesis.following,
            "hypothesis_pseudo": hypothesis.pseudo,
            "termination": history.fr.termination,
        }
    )
    return QualifierRules(
        version=data.version,
        french=french,
        english_cues=english,
        windows=data.windows.model_dump(),
        history_cues={"fr": _history_cues(history.fr), "en": _history_cues(history.en)},
        family_history_concepts=frozenset(history.family_history_concepts),
        current_concepts=frozenset(history.current_concepts),
        french_question_cues=french_questions,
    )


def _rule(spec: RuleSpec, service: str | None) -> Rule:
    return Rule(
        when=spec.when or {},
        level=spec.level,
        service=spec.service if "service" in spec.model_fields_set else service,
        because=spec.because.localized(),
    )


def load_rules() -> RuleBook:
    # Every file is checked, alone and against the others, before anything is compiled.
    lexicon_file = _load("lexicon.yml", LexiconFile)
    qualifiers_file = _load("qualifiers.yml", QualifiersFile)
    flags_file = _load("red_flags.yml", RedFlagsFile)
    complaints_file = _load("complaints.yml", ComplaintsFile)
    questions_file = _load("questions.yml", QuestionsFile)
    texts_file = _load("texts.yml", TextsFile)
    check_references(lexicon_file, qualifiers_file, flags_file, complaints_file, questions_file)

    concepts, lexicon = _load_lexicon(lexicon_file)
    red_flags = tuple(
        RedFlagRule(
            code=flag.code,
            level=flag.level,
            label=flag.label.localized(),
            rationale=flag.rationale,
            conditions=flag.conditions,
            service=flag.service,
            extra_numbers=flag.extra_numbers,
            advice=flag.advice.localized() if flag.advice else None,
        )
        for flag in flags_file.red_flags
    )
    complaints = tuple(
        Complaint(
            code=code,
            triggers=spec.triggers,
            service=spec.service,
            rationale=spec.rationale,
            rules=tuple(_rule(rule, spec.service) for rule in spec.rules),
            default=_rule(spec.default, spec.service),
            secondary=spec.secondary,
            safety_net=spec.safety_net.localized() if spec.safety_net else None,
            extra_numbers=spec.extra_numbers,
        )
        for code, spec in complaints_file.complaints.items()
    )
    modifiers = tuple(
        Modifier(
            code=spec.code,
            when=spec.when,
            min_level=spec.min_level,
            because=spec.because.localized(),
            only=frozenset(spec.only) if spec.only is not None else None,
            except_=frozenset(spec.except_),
        )
        for spec in complaints_file.modifiers
    )
    questions = tuple(
        Question(
            q.id,
            q.fact,
            q.text.localized(),
            tuple(Option(o.value, o.label.localized(), o.sets()) for o in q.options),
            q.ask_if,
            q.engine_asks,
        )
        for q in questions_file.questions
    )
    return RuleBook(
        versions={
            "lexicon": lexicon_file.version,
            "qualifiers": qualifiers_file.version,
            "red_flags": flags_file.version,
            "complaints": complaints_file.version,
            "questions": questions_file.version,
            "texts": texts_file.version,
        },
        concepts=concepts,
        lexicon=lexicon,
        qualifiers=_load_qualifiers(qualifiers_file),
        numbers={code: Number(code, n.number, dict(n.label)) for code, n in emergency_numbers().numbers.items()},
        default_numbers=emergency_numbers().default_numbers,
        red_flags=red_flags,
        complaints=complaints,
        modifiers=modifiers,
        paediatric_age_below=complaints_file.paediatric_age_below,
        paediatric_services=dict(complaints_file.paediatric_services.items()),
        questions=questions,
        max_questions=questions_file.max_per_turn,
        describe=questions_file.describe.model_dump(),
        texts=texts_file.model_dump(by_alias=True),
        masks={c.code: c.masks for c in concepts.values() if c.masks},
    )

_LOCK = threading.Lock()
_RULES: RuleBook | None = None


def rules() -> RuleBook:
    """The rule book, loaded once per process."""
    global _RULES
    if _RULES is None:
        with _LOCK:
            if _RULES is None:
                _RULES = load_rules()
    return _RULES
