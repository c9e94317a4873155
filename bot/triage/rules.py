"""Loading the clinical rules from `data/*.yml` into typed objects, validated at load time.

The YAML files are the clinical content, reviewable by clinicians; this module only compiles and
checks them (unknown concepts, levels, services or condition keys fail loudly at start-up rather
than silently never matching).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .conditions import validate
from .lexicon import Lexicon, Pattern, compile_pattern
from .qualifiers import CueSet
from .text import phrase, tokenize

DATA = Path(__file__).resolve().parent / "data"

LEVELS: tuple[str, ...] = (
    "emergency_call",
    "emergency_department",
    "same_day",
    "appointment",
    "teleconsultation",
    "pharmacist",
    "self_care",
)
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}
SERVICES: frozenset[str] = frozenset(
    "general_medicine cardiology paediatrics maternity gynaecology gastroenterology dermatology "
    "ophthalmology ent orthopaedics neurology psychiatry radiology oncology pulmonology urology "
    "emergency paediatric_emergency".split()
)
LANGUAGES = ("fr", "en")

Localized = dict[str, str]


class RulesError(ValueError):
    pass


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


def _load(name: str) -> dict[str, Any]:
    with open(DATA / name, encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(data, dict) or "version" not in data:
        raise RulesError(f"{name}: a mapping with a `version:` key is expected")
    return data


def _localized(value: Any, where: str) -> Localized:
    if not isinstance(value, dict) or not all(isinstance(value.get(lang), str) for lang in LANGUAGES):
        raise RulesError(f"{where}: needs text in {LANGUAGES}")
    return {lang: value[lang] for lang in LANGUAGES}


def _level(value: Any, where: str) -> str:
    if value not in LEVEL_RANK:
        raise RulesError(f"{where}: unknown level {value!r}")
    return str(value)


def _service(value: Any, where: str) -> str | None:
    if value is not None and value not in SERVICES:
        raise RulesError(f"{where}: unknown service {value!r}")
    return value


def _load_lexicon(data: dict[str, Any]) -> tuple[dict[str, Concept], Lexicon]:
    classes: dict[str, frozenset[tuple[str, ...]]] = {}
    for name, by_lang in data["classes"].items():
        phrases = [p for lang in LANGUAGES for p in by_lang.get(lang, [])]
        classes[name] = frozenset(phrase(p) for p in phrases if phrase(p))
    concepts: dict[str, Concept] = {}
    patterns: list[Pattern] = []
    for code, spec in data["concepts"].items():
        label = spec.get("label", {})
        concepts[code] = Concept(code, {lang: label.get(lang, "") for lang in LANGUAGES}, tuple(spec.get("masks", [])))
        for lang in LANGUAGES:
            for term in spec.get(lang, []) or []:
                try:
                    patterns.extend(compile_pattern(str(term), code, lang, classes))
                except ValueError as exc:
                    raise RulesError(f"lexicon.yml {code}: {exc}") from exc
    for concept in concepts.values():
        for masked in concept.masks:
            if masked not in concepts:
                raise RulesError(f"lexicon.yml {concept.code}: masks unknown concept {masked!r}")
    words = {
        token
        for spec in data["concepts"].values()
        for lang in LANGUAGES
        for term in spec.get(lang, []) or []
        for token in tokenize(re.sub(r"<[a-z]+>|\.\.\.|[|&?]", " ", str(term)))
    } | {token for by_lang in data["classes"].values() for lang in LANGUAGES for p in by_lang.get(lang, []) for token in tokenize(p)}
    return concepts, Lexicon(patterns, protected=data.get("protected", []), words=words)


def _cue_set(groups: dict[str, list[str]], classes: dict[str, frozenset[tuple[str, ...]]] | None = None) -> CueSet:
    patterns: list[Pattern] = []
    for kind, terms in groups.items():
        for term in terms:
            patterns.extend(compile_pattern(str(term), kind, "", classes or {}))
    return CueSet(Lexicon(patterns, correct_spelling=False))


def _load_qualifiers(data: dict[str, Any]) -> QualifierRules:
    en = data["en"]
    english = _cue_set(
        {
            "negation_preceding": en["negation"]["preceding"],
            "negation_following": en["negation"]["following"],
            "negation_pseudo": en["negation"]["pseudo"],
            "hypothesis_preceding": en["hypothesis"]["preceding"],
            "hypothesis_following": en["hypothesis"]["following"],
            "hypothesis_pseudo": en["hypothesis"]["pseudo"],
            "family": en["family"],
            "termination": en["termination"],
        }
    )
    history = data["history"]
    history_cues = {
        lang: _cue_set(
            {
                "past_time": history[lang]["past_time"],
                "family_past_verb": history[lang]["family_past_verb"],
                "recent": history[lang]["recent"],
                "child_relative": history[lang]["child_relative"],
                "history_termination": history[lang]["termination"],
                "admin": history[lang].get("admin", []),
            }
        )
        for lang in LANGUAGES
    }
    fr = data["fr"]
    # edsnlp matches its terms on its own normalisation of the text we give it; ours is already
    # accent-free and elision-expanded, so terms are passed through the same tokenizer.
    french = {
        "negation": {k: [" ".join(tokenize(str(t))) for t in v] if k != "preceding_regex" else list(v) for k, v in fr["negation"].items()},
        "hypothesis": {
            k: ([" ".join(tokenize(str(t))) for t in v] if not k.startswith("verbs") else list(v)) for k, v in fr["hypothesis"].items()
        },
        "family": [" ".join(tokenize(str(t))) for t in fr["family"]],
    }
    french_questions = _cue_set(
        {
            "hypothesis_preceding": [t for t in fr["hypothesis"]["preceding"] if t not in ("si", "s il", "et si", "risque de")],
            "hypothesis_following": fr["hypothesis"]["following"],
            "hypothesis_pseudo": fr["hypothesis"]["pseudo"],
            "termination": history["fr"]["termination"],
        }
    )
    return QualifierRules(
        version=str(data["version"]),
        french=french,
        english_cues=english,
        windows=dict(data["windows"]),
        history_cues=history_cues,
        family_history_concepts=frozenset(history.get("family_history_concepts", [])),
        current_concepts=frozenset(history.get("current_concepts", [])),
        french_question_cues=french_questions,
    )


def _rule(spec: dict[str, Any], concepts: set[str], where: str, service: str | None) -> Rule:
    when = spec.get("when") or {}
    validate(when, concepts, where)
    return Rule(
        when=when,
        level=_level(spec.get("level"), where),
        service=_service(spec.get("service", service), where),
        because=_localized(spec.get("because"), where + ".because"),
    )


def load_rules() -> RuleBook:
    lexicon_data = _load("lexicon.yml")
    concepts, lexicon = _load_lexicon(lexicon_data)
    known = set(concepts)
    qualifier_data = _load("qualifiers.yml")
    history_data = qualifier_data["history"]
    for concept in [*history_data.get("family_history_concepts", []), *history_data.get("current_concepts", [])]:
        if concept not in known:
            raise RulesError(f"qualifiers.yml: unknown concept {concept!r}")

    flags_data = _load("red_flags.yml")
    numbers = {
        code: Number(code, str(spec["number"]), _localized(spec["label"], f"numbers.{code}"))
        for code, spec in flags_data["numbers"].items()
    }
    red_flags = []
    for spec in flags_data["red_flags"]:
        where = f"red_flags.yml {spec['code']}"
        conditions = tuple(spec["when_any"]) if "when_any" in spec else (spec["when"],)
        for cond in conditions:
            validate(cond, known, where)
        for number in spec.get("extra_numbers", []):
            if number not in numbers:
                raise RulesError(f"{where}: unknown number {number!r}")
        red_flags.append(
            RedFlagRule(
                code=spec["code"],
                level=_level(spec["level"], where),
                label=_localized(spec["label"], where),
                rationale=str(spec.get("rationale", "")),
                conditions=conditions,
                service=_service(spec.get("service", "emergency"), where) or "emergency",
                extra_numbers=tuple(spec.get("extra_numbers", [])),
                advice=_localized(spec["advice"], where + ".advice") if "advice" in spec else None,
            )
        )

    complaints_data = _load("complaints.yml")
    complaints = []
    for code, spec in complaints_data["complaints"].items():
        where = f"complaints.yml {code}"
        for trigger in spec["triggers"]:
            if trigger not in known:
                raise RulesError(f"{where}: unknown trigger {trigger!r}")
        service = _service(spec.get("service"), where)
        complaints.append(
            Complaint(
                code=code,
                triggers=tuple(spec["triggers"]),
                service=service,
                rationale=str(spec.get("rationale", "")),
                rules=tuple(_rule(r, known, f"{where}.rules[{i}]", service) for i, r in enumerate(spec.get("rules", []))),
                default=_rule(spec["default"], known, f"{where}.default", service),
                secondary=bool(spec.get("secondary", False)),
                safety_net=_localized(spec["safety_net"], where + ".safety_net") if "safety_net" in spec else None,
                extra_numbers=tuple(spec.get("extra_numbers", [])),
            )
        )
    for complaint in complaints:
        for number in complaint.extra_numbers:
            if number not in numbers:
                raise RulesError(f"complaints.yml {complaint.code}: unknown number {number!r}")
    complaint_codes = {c.code for c in complaints}
    modifiers = []
    for spec in complaints_data.get("modifiers", []):
        where = f"complaints.yml modifier {spec['code']}"
        validate(spec["when"], known, where)
        for name in list(spec.get("only", [])) + list(spec.get("except", [])):
            if name not in complaint_codes:
                raise RulesError(f"{where}: unknown complaint {name!r}")
        modifiers.append(
            Modifier(
                code=spec["code"],
                when=spec["when"],
                min_level=_level(spec["min_level"], where),
                because=_localized(spec["because"], where),
                only=frozenset(spec["only"]) if "only" in spec else None,
                except_=frozenset(spec.get("except", [])),
            )
        )

    questions_data = _load("questions.yml")
    questions = []
    for spec in questions_data["questions"]:
        where = f"questions.yml {spec['id']}"
        if spec.get("ask_if"):
            validate(spec["ask_if"], known, where)
        options = tuple(
            Option(
                value=str(o["value"]),
                label=_localized(o["label"], f"{where}.{o['value']}"),
                sets={k: v for k, v in o.items() if k not in ("value", "label")},
            )
            for o in spec["options"]
        )
        questions.append(
            Question(
                spec["id"], spec["fact"], _localized(spec["text"], where), options, spec.get("ask_if"),
                bool(spec.get("engine_asks", False)),
            )
        )

    texts = _load("texts.yml")
    for level in LEVELS:
        _localized(texts["levels"].get(level), f"texts.yml levels.{level}")

    paediatric = {k: v for k, v in complaints_data.get("paediatric_services", {}).items()}
    for k, v in paediatric.items():
        _service(k, "paediatric_services")
        _service(v, "paediatric_services")
    return RuleBook(
        versions={
            "lexicon": str(lexicon_data["version"]),
            "qualifiers": str(qualifier_data["version"]),
            "red_flags": str(flags_data["version"]),
            "complaints": str(complaints_data["version"]),
            "questions": str(questions_data["version"]),
            "texts": str(texts["version"]),
        },
        concepts=concepts,
        lexicon=lexicon,
        qualifiers=_load_qualifiers(qualifier_data),
        numbers=numbers,
        default_numbers=tuple(flags_data["default_numbers"]),
        red_flags=tuple(red_flags),
        complaints=tuple(complaints),
        modifiers=tuple(modifiers),
        paediatric_age_below=float(complaints_data.get("paediatric_age_below", 16)),
        paediatric_services=paediatric,
        questions=tuple(questions),
        max_questions=int(questions_data.get("max_per_turn", 3)),
        describe=questions_data["describe"],
        texts=texts,
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
