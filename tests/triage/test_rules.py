"""The rule files: valid, versioned, explained, and readable by a clinician."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.triage import rules as rules_module
from bot.triage.conditions import ConditionError, evaluate, validate
from bot.triage.facts import Facts
from bot.triage.lexicon import Lexicon, PatternError, compile_pattern
from bot.triage.rules import DATA, LEVELS, SERVICES, load_rules, rules
from bot.triage.text import phrase, stem, tokenize
from tests.triage.test_engine import FORBIDDEN


def test_every_rule_file_is_versioned() -> None:
    for path in Path(DATA).glob("*.yml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data.get("version"), path.name


def test_rules_load_and_are_explained() -> None:
    book = load_rules()
    assert book.version.count(":") == 6
    for flag in book.red_flags:
        assert flag.rationale.strip(), flag.code
        # A red flag sends to emergency care, except one that gives a 24/7 helpline and stays with
        # the person (passive suicidal thoughts: 3114, a direct question, care the same day).
        assert flag.level in ("emergency_call", "emergency_department") or (
            flag.level == "same_day" and "suicide" in flag.extra_numbers
        ), flag.code
        assert flag.label["fr"] and flag.label["en"]
        assert flag.service in SERVICES
    for complaint in book.complaints:
        assert complaint.rationale.strip(), complaint.code
        for rule in (*complaint.rules, complaint.default):
            assert rule.level in LEVELS
            assert rule.service is None or rule.service in SERVICES
            assert rule.because["fr"] and rule.because["en"]
    for modifier in book.modifiers:
        assert modifier.because["fr"] and modifier.because["en"]


def test_concepts_used_in_decisions_have_labels() -> None:
    book = rules()
    used = {t for c in book.complaints for t in c.triggers}
    for flag in book.red_flags:
        for cond in flag.conditions:
            used |= set(cond.get("all", [])) | set(cond.get("any", []))
    for code in used:
        label = book.concepts[code].label
        assert label["fr"] and label["en"], code


def test_patient_facing_rule_texts_never_diagnose_or_prescribe() -> None:
    book = rules()
    texts = [c.label[lang] for c in book.concepts.values() for lang in ("fr", "en")]
    texts += [f.label[lang] for f in book.red_flags for lang in ("fr", "en")]
    texts += [r.because[lang] for c in book.complaints for r in (*c.rules, c.default) for lang in ("fr", "en")]
    texts += [q.text[lang] for q in book.questions for lang in ("fr", "en")]
    texts += [
        text for group in ("levels", "safety_net") for entry in book.texts[group].values() for text in entry.values()
    ]
    for text in texts:
        lowered = text.lower()
        for word in FORBIDDEN:
            assert word not in lowered, (word, text)


def test_questions_cover_the_documented_ids() -> None:
    ids = {q.id for q in rules().questions}
    assert {"age_group", "duration", "fever", "pain_intensity", "pregnancy", "chronic_condition", "worsening"} <= ids
    for question in rules().questions:
        assert question.options and all(o.label["fr"] and o.label["en"] for o in question.options)


def test_condition_validation_fails_loudly() -> None:
    concepts = {"fever", "cough"}
    validate({"all": ["fever"], "age": {"min": 2}}, concepts, "ok")
    with pytest.raises(ConditionError):
        validate({"all": ["feverr"]}, concepts, "typo in a concept")
    with pytest.raises(ConditionError):
        validate({"agee": {"min": 2}}, concepts, "typo in a key")
    with pytest.raises(ConditionError):
        validate({"age": {"max": 2}}, concepts, "wrong range key")


def test_three_valued_conditions() -> None:
    facts = Facts(concepts={"fever"})
    assert evaluate({"all": ["fever"]}, facts) is True
    assert evaluate({"age": {"below": 0.25}}, facts) is None  # unknown: a question may be asked
    assert evaluate({"age": {"min": 40, "if_unknown": True}}, facts) is True  # the safe assumption
    assert evaluate({"all": ["cough"], "age": {"below": 1}}, facts) is False
    baby = Facts(concepts={"fever"}, age=(0.0, 1.99))  # "bébé": under 2, maybe under 3 months
    assert evaluate({"age": {"below": 2}}, baby) is True
    assert evaluate({"age": {"below": 0.25}}, baby) is None
    assert evaluate({"any_of": [{"fever": True}, {"age": {"min": 75}}]}, facts) is True
    assert evaluate({"temperature": {"min": 40}}, Facts(negated={"fever"})) is False


def classes() -> dict:
    # As rules.py builds them: each phrase tokenized and stemmed.
    return {
        "pain": frozenset(phrase(w) for w in ("mal", "douleur", "pain")),
        "chest": frozenset(phrase(w) for w in ("poitrine", "chest")),
    }


def find(pattern: str, text: str) -> list[str]:
    lexicon = Lexicon(compile_pattern(pattern, "c", "fr", classes()))
    return [" ".join(tokenize(text)[m.start : m.end]) for m in lexicon.find(tokenize(text))]


def test_pattern_syntax() -> None:
    assert find("<pain> & <chest>", "j'ai mal à la poitrine") == ["mal a la poitrine"]
    assert find("<pain> & <chest>", "la poitrine me fait mal") == ["poitrine me fait mal"]
    assert find("<pain> & <chest>", "mal au dos. poitrine ok") == []  # never across a sentence
    assert find("ventre dur|tendu", "ventre tendu") == ["ventre tendu"]
    assert find("mal au? ventre", "mal ventre") == ["mal ventre"]
    assert find("mal ... ventre", "mal dans le bas du ventre") == []  # more than 3 words in between
    assert find("mal ... ventre", "mal dans le ventre") == ["mal dans le ventre"]
    assert find("avale && comprimes", "il a avalé une plaquette entière de ses comprimés") == [
        "avale une plaquette entiere de ses comprimes"
    ]
    with pytest.raises(PatternError):
        compile_pattern("<nope> & poitrine", "c", "fr", classes())
    with pytest.raises(PatternError):
        compile_pattern("a & b & c", "c", "fr", classes())


def test_misspellings_are_corrected_towards_the_lexicon_only() -> None:
    lexicon = rules().lexicon
    # The lexicon matches on light stems, so a correction lands on the stem of the right word.
    corrected = lexicon.correct(["diarhee", "vomisment", "poitrinne", "convultions"])
    assert corrected == [stem(w) for w in ("diarrhee", "vomissement", "poitrine", "convulsions")]
    # real words that look like symptoms are left alone
    assert lexicon.correct(["soigne", "malade", "passer"]) == ["soigne", "malade", "passer"]


# Malformed data must stop the load, naming the file, the entry and the problem. The files are
# parsed once; each case breaks one thing in a copy and loads the rules from it.
FILES = ("lexicon.yml", "qualifiers.yml", "red_flags.yml", "complaints.yml", "questions.yml", "texts.yml")
Edit = Callable[[dict[str, Any]], Any]


@pytest.fixture(scope="module")
def parsed() -> dict[str, Any]:
    return {name: rules_module._read_yaml(name) for name in FILES}


def _stroke(data: dict[str, Any]) -> dict[str, Any]:
    return next(flag for flag in data["red_flags"] if flag["code"] == "stroke_signs")


def _chest_pain(data: dict[str, Any]) -> dict[str, Any]:
    return data["complaints"]["chest_pain"]


def _age_group(data: dict[str, Any]) -> dict[str, Any]:
    return data["questions"][0]


def _case(name: str, edit: Edit, message: str, id: str) -> Any:
    return pytest.param(name, edit, message, id=id)


BROKEN = [
    _case("red_flags.yml", lambda d: _stroke(d).update(level="urgent"),
          r"red_flags\.yml: red_flags\[stroke_signs\]\.level: Input should be 'emergency_call'.*, not 'urgent'",
          "unknown level"),
    _case("complaints.yml", lambda d: _chest_pain(d)["default"].update(level="soon"),
          r"complaints\.yml: complaints\.chest_pain\.default\.level: Input should be .*, not 'soon'",
          "unknown level in a rule"),
    _case("complaints.yml", lambda d: _chest_pain(d).update(service="surgery"),
          r"complaints\.yml: complaints\.chest_pain\.service: Input should be .*, not 'surgery'",
          "unknown service"),
    _case("questions.yml", lambda d: _age_group(d).update(fact="height"),
          r"questions\.yml: questions\[age_group\]\.fact: Input should be .*, not 'height'",
          "unknown fact"),
    _case("complaints.yml", lambda d: _chest_pain(d)["default"].pop("because"),
          r"complaints\.yml: complaints\.chest_pain\.default\.because: required",
          "missing field"),
    _case("red_flags.yml", lambda d: _stroke(d)["label"].pop("en"),
          r"red_flags\.yml: red_flags\[stroke_signs\]\.label\.en: required",
          "missing language"),
    _case("texts.yml", lambda d: d["levels"].pop("pharmacist"),
          r"texts\.yml: levels: no text for \['pharmacist'\]",
          "missing level text"),
    _case("complaints.yml", lambda d: _chest_pain(d)["rules"][0].update(servce="cardiology"),
          r"complaints\.yml: complaints\.chest_pain\.rules\[0\]\.servce: unknown key",
          "extra key"),
    _case("questions.yml", lambda d: _age_group(d)["options"][0].update(pregant=True),
          r"questions\.yml: questions\[age_group\]\.options\[lt3m\]\.pregant: unknown key",
          "extra key in an option"),
    _case("red_flags.yml", lambda d: _stroke(d).pop("when_any"),
          r"red_flags\.yml: red_flags\[stroke_signs\]: needs either `when` or `when_any`",
          "no condition"),
    _case("questions.yml", lambda d: _age_group(d)["options"][0].update(age=[3, 1]),
          r"questions\.yml: questions\[age_group\]\.options\[lt3m\]\.age: expected \[low, high\]",
          "reversed range"),
    _case("questions.yml", lambda d: d["questions"].append(copy.deepcopy(_age_group(d))),
          r"questions\.yml: questions: \['age_group'\] given twice",
          "duplicate id"),
    _case("complaints.yml", lambda d: _chest_pain(d)["triggers"].append("chest_pian"),
          r"complaints\.yml: complaints\.chest_pain\.triggers: unknown concept 'chest_pian'",
          "unknown trigger"),
    _case("red_flags.yml", lambda d: _stroke(d)["when_any"][0].update(any=["feverr"]),
          r"red_flags\.yml: red_flags\[stroke_signs\]: unknown concept 'feverr'",
          "unknown concept in a condition"),
    _case("complaints.yml", lambda d: _chest_pain(d)["rules"][0]["when"].update(agee={"min": 40}),
          r"complaints\.yml: complaints\.chest_pain\.rules\[0\]: unknown condition keys \['agee'\]",
          "unknown condition key"),
    _case("red_flags.yml", lambda d: _stroke(d).update(extra_numbers=["pizza"]),
          r"red_flags\.yml: red_flags\[stroke_signs\]\.extra_numbers: unknown number 'pizza'",
          "unknown number"),
    _case("complaints.yml", lambda d: _chest_pain(d).update(extra_numbers=["pizza"]),
          r"complaints\.yml: complaints\.chest_pain\.extra_numbers: unknown number 'pizza'",
          "unknown number from another file"),
    _case("complaints.yml", lambda d: d["modifiers"][0].update(only=["chest_pian"]),
          r"complaints\.yml: modifiers\[infant_under_3_months\]: unknown complaint 'chest_pian'",
          "unknown complaint"),
    _case("lexicon.yml", lambda d: d["concepts"]["chest_pain"].update(masks=["nope"]),
          r"lexicon\.yml: concepts\.chest_pain\.masks: unknown concept 'nope'",
          "unknown masked concept"),
    _case("qualifiers.yml", lambda d: d["history"]["current_concepts"].append("nope"),
          r"qualifiers\.yml: history: unknown concept 'nope'",
          "unknown concept in qualifiers"),
]


@pytest.mark.parametrize(("name", "edit", "message"), BROKEN)
def test_malformed_data_fails_at_load_naming_file_entry_and_problem(
    parsed: dict[str, Any], monkeypatch: pytest.MonkeyPatch, name: str, edit: Edit, message: str
) -> None:
    data = copy.deepcopy(parsed)
    edit(data[name])
    monkeypatch.setattr(rules_module, "_read_yaml", lambda file: data[file])
    with pytest.raises(ValueError, match=message):
        load_rules()
