"""What the data files in `data/` must hold, as pydantic models: one model per file.

The files are edited by hand, by clinicians. A typo (a level, a key, a concept) must stop the engine
at start-up with the file, the entry and the problem, instead of leaving a rule that never matches.
The models say what each file holds; `check_references` checks what one file names from another.
`when:` conditions stay plain dicts: their small language is checked by `conditions.validate`, next
to the code that evaluates it, because checking them needs the concepts of lexicon.yml.
"""

from __future__ import annotations

import reprlib
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from bot.core.numbers import emergency_numbers

from .conditions import validate as validate_condition

# Most urgent first: the order is the rank.
Level = Literal[
    "emergency_call", "emergency_department", "same_day", "appointment", "teleconsultation", "pharmacist", "self_care"
]
Service = Literal[
    "general_medicine", "cardiology", "paediatrics", "maternity", "gynaecology", "gastroenterology", "dermatology",
    "ophthalmology", "ent", "orthopaedics", "neurology", "psychiatry", "radiology", "oncology", "pulmonology",
    "urology", "emergency", "paediatric_emergency",
]
Language = Literal["fr", "en"]
# The facts an answer can set (questions.py applies them).
Fact = Literal["age", "temperature", "pain", "duration_hours", "pregnant", "worsening", "chronic", "confirmed", "suicidal_now"]
Condition = dict[str, Any]
Terms = tuple[str, ...]
Numeric = int | float  # kept as written: an answer's 2 stays 2, not 2.0
Range = Annotated[list[Numeric], Field(min_length=2, max_length=2)]


class RulesError(ValueError):
    pass


class _Model(BaseModel):
    # The files are read as YAML 1.1, where an unquoted `0`, `15` or `2_15` is a number even where a
    # word is meant; the loader has always used its str().
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class _File(_Model):
    version: str = Field(min_length=1)  # a result carries the versions that produced it


class Text(_Model):
    """A patient-facing text, in every language the assistant speaks."""

    fr: str
    en: str

    def localized(self) -> dict[str, str]:
        return {"fr": self.fr, "en": self.en}


def _unique(codes: list[str], what: str) -> None:
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise ValueError(f"{what}: {duplicates} given twice")


# lexicon.yml


class WordClass(_Model):
    fr: Terms = ()
    en: Terms = ()

    def by_language(self) -> tuple[tuple[Language, Terms], ...]:
        return (("fr", self.fr), ("en", self.en))


class ConceptSpec(WordClass):
    label: dict[Language, str] = {}  # a concept that only masks another is never shown
    masks: Terms = ()


class LexiconFile(_File):
    protected: Terms = ()
    classes: dict[str, WordClass]
    concepts: dict[str, ConceptSpec]

    @model_validator(mode="after")
    def _masks_are_concepts(self) -> LexiconFile:
        for code, concept in self.concepts.items():
            for masked in concept.masks:
                if masked not in self.concepts:
                    raise ValueError(f"concepts.{code}.masks: unknown concept {masked!r}")
        return self


# qualifiers.yml


class Cues(_Model):
    preceding: Terms
    following: Terms
    pseudo: Terms


class FrenchNegation(Cues):
    preceding_regex: Terms


class FrenchHypothesis(Cues):
    # edsnlp reads an empty verb list as "every verb".
    verbs_hyp: Terms = Field(min_length=1)
    verbs_eds: Terms = Field(min_length=1)


class FrenchCues(_Model):
    negation: FrenchNegation
    hypothesis: FrenchHypothesis
    family: Terms


class EnglishCues(_Model):
    negation: Cues
    hypothesis: Cues
    family: Terms
    termination: Terms


class HistoryCues(_Model):
    past_time: Terms
    admin: Terms = ()
    family_past_verb: Terms
    recent: Terms
    child_relative: Terms
    termination: Terms


class History(_Model):
    current_concepts: Terms = ()
    family_history_concepts: Terms = ()
    fr: HistoryCues
    en: HistoryCues


class Windows(_Model):
    negation: int = Field(gt=0)
    hypothesis: int = Field(gt=0)


class QualifiersFile(_File):
    windows: Windows
    fr: FrenchCues
    en: EnglishCues
    history: History


# red_flags.yml


class RedFlagSpec(_Model):
    code: str
    level: Level
    label: Text
    rationale: str = ""
    when: Condition | None = None
    when_any: Annotated[tuple[Condition, ...], Field(min_length=1)] | None = None  # one of several
    service: Service = "emergency"
    extra_numbers: Terms = ()
    advice: Text | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> RedFlagSpec:
        if (self.when is None) == (self.when_any is None):
            raise ValueError("needs either `when` or `when_any`")
        return self

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.when_any or (self.when or {},)


class RedFlagsFile(_File):
    red_flags: tuple[RedFlagSpec, ...]

    @model_validator(mode="after")
    def _codes_unique(self) -> RedFlagsFile:
        _unique([flag.code for flag in self.red_flags], "red_flags")
        return self


# complaints.yml


class RuleSpec(_Model):
    when: Condition | None = None
    level: Level
    service: Service | None = None  # when absent (not null), the complaint's
    because: Text


class ComplaintSpec(_Model):
    triggers: Terms = Field(min_length=1)
    service: Service | None = None
    rationale: str = ""
    rules: tuple[RuleSpec, ...] = ()
    default: RuleSpec
    secondary: bool = False
    safety_net: Text | None = None
    extra_numbers: Terms = ()


class ModifierSpec(_Model):
    code: str
    rationale: str = ""
    when: Condition
    min_level: Level
    because: Text
    only: Terms | None = None
    except_: Terms = Field((), alias="except")


class ComplaintsFile(_File):
    complaints: dict[str, ComplaintSpec]
    modifiers: tuple[ModifierSpec, ...] = ()
    paediatric_age_below: float = 16.0
    paediatric_services: dict[Service, Service] = {}

    @model_validator(mode="after")
    def _modifiers_name_complaints(self) -> ComplaintsFile:
        _unique([modifier.code for modifier in self.modifiers], "modifiers")
        for modifier in self.modifiers:
            for name in (*(modifier.only or ()), *modifier.except_):
                if name not in self.complaints:
                    raise ValueError(f"modifiers[{modifier.code}]: unknown complaint {name!r}")
        return self


# questions.yml


class OptionSpec(_Model):
    value: str
    label: Text
    age: Range | None = None  # years
    duration_hours: Range | None = None
    temperature: Numeric | None = None
    pain: Numeric | None = None
    fever: bool | None = None
    pregnant: bool | None = None
    worsening: bool | None = None
    chronic: bool | None = None
    confirmed: bool | None = None
    suicidal_now: bool | None = None

    @field_validator("age", "duration_hours")
    @classmethod
    def _low_high(cls, value: list[Numeric] | None) -> list[Numeric] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"expected [low, high], not {value}")
        return value

    @model_validator(mode="after")
    def _sets_a_fact(self) -> OptionSpec:
        if not self.sets():
            raise ValueError("the option sets no fact")
        return self

    def sets(self) -> dict[str, Any]:
        return self.model_dump(exclude={"value", "label"}, exclude_unset=True)


class QuestionSpec(_Model):
    id: str
    fact: Fact
    text: Text
    options: tuple[OptionSpec, ...] = Field(min_length=1)
    ask_if: Condition | None = None
    engine_asks: bool = False

    @model_validator(mode="after")
    def _distinct_options(self) -> QuestionSpec:
        _unique([option.value for option in self.options], "options")
        return self


class Describe(_Model):
    id: str
    text: Text


class QuestionsFile(_File):
    max_per_turn: int = Field(3, gt=0)
    questions: tuple[QuestionSpec, ...]
    describe: Describe

    @model_validator(mode="after")
    def _distinct_ids(self) -> QuestionsFile:
        _unique([question.id for question in self.questions], "questions")
        return self


# texts.yml: every key is read by the engine.


class Reasons(_Model):
    you_describe: Text
    red_flag: Text
    pending: Text
    and_: Text = Field(alias="and")
    temperature: Text  # {value}: the temperature as the patient's language writes it
    pain: Text  # {score}
    decimal_point: Text


class SafetyNets(_Model):
    emergency_call: Text
    default: Text
    recontact: Text
    child: Text
    pregnancy: Text
    suicide: Text
    poison: Text


class DescribeTexts(_Model):
    reason: Text


class TextsFile(_File):
    levels: dict[Level, Text]
    call_now: Text
    reasons: Reasons
    safety_net: SafetyNets
    describe: DescribeTexts

    @field_validator("levels")
    @classmethod
    def _every_level(cls, levels: dict[Level, Text]) -> dict[Level, Text]:
        missing = [level for level in get_args(Level) if level not in levels]
        if missing:
            raise ValueError(f"no text for {missing}")
        return levels


def read[M: BaseModel](name: str, data: Any, schema: type[M]) -> M:
    """The file's YAML as `schema`, or a RulesError with one line per problem."""
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise RulesError("\n".join(f"{name}: {_problem(data, error)}" for error in exc.errors())) from None


def _problem(data: Any, error: ErrorDetails) -> str:
    if error["type"] == "value_error":  # our validators' own words, without pydantic's prefix
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    elif error["type"] == "missing":
        message = "required"
    elif error["type"] == "extra_forbidden":
        message = "unknown key"
    else:
        message = f"{error['msg']}, not {reprlib.repr(error['input'])}"
    where = _where(data, error["loc"])
    return f"{where}: {message}" if where else message


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """`red_flags[stroke].level` rather than ("red_flags", 12, "level"): a clinician looks for a code."""
    path, node = "", data
    for key in loc:
        if isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
            name = next((node[k] for k in ("code", "id", "value") if isinstance(node, dict) and k in node), key)
            path += f"[{name}]"
        elif isinstance(node, dict) and key != "[key]":
            node = node.get(key)
            path += f".{key}"
        # anything else is pydantic's name for a union member or a mapping's key, not a place in the file
    return path.lstrip(".")


def check_references(
    lexicon: LexiconFile,
    qualifiers: QualifiersFile,
    red_flags: RedFlagsFile,
    complaints: ComplaintsFile,
    questions: QuestionsFile,
) -> None:
    """What a file names from another: concepts of lexicon.yml, numbers of emergency_numbers.yml."""
    concepts = set(lexicon.concepts)
    numbers = emergency_numbers().numbers
    history = qualifiers.history
    for concept in (*history.family_history_concepts, *history.current_concepts):
        if concept not in concepts:
            raise RulesError(f"qualifiers.yml: history: unknown concept {concept!r} (not in lexicon.yml)")
    for flag in red_flags.red_flags:
        for number in flag.extra_numbers:
            if number not in numbers:
                raise RulesError(f"red_flags.yml: red_flags[{flag.code}].extra_numbers: unknown number {number!r} "
                                 "(not in emergency_numbers.yml)")
        for condition in flag.conditions:
            validate_condition(condition, concepts, f"red_flags.yml: red_flags[{flag.code}]")
    for code, complaint in complaints.complaints.items():
        where = f"complaints.yml: complaints.{code}"
        for trigger in complaint.triggers:
            if trigger not in concepts:
                raise RulesError(f"{where}.triggers: unknown concept {trigger!r} (not in lexicon.yml)")
        for number in complaint.extra_numbers:
            if number not in numbers:
                raise RulesError(f"{where}.extra_numbers: unknown number {number!r} (not in emergency_numbers.yml)")
        for name, rule in [*((f"rules[{i}]", r) for i, r in enumerate(complaint.rules)), ("default", complaint.default)]:
            validate_condition(rule.when or {}, concepts, f"{where}.{name}")
    for modifier in complaints.modifiers:
        validate_condition(modifier.when, concepts, f"complaints.yml: modifiers[{modifier.code}]")
    for question in questions.questions:
        validate_condition(question.ask_if or {}, concepts, f"questions.yml: questions[{question.id}]")
