"""Negation, hypothesis, relatives and history — French (edsnlp) and English (ConText triggers)."""

from __future__ import annotations

import pytest

from bot.triage import red_flags_in
from bot.triage.analysis import analyse, qualifier
from bot.triage.qualifiers import eds_pipeline
from bot.triage.rules import rules


def mention(text: str, concept: str, language: str | None = None):
    found = [m for m in analyse(text, language).mentions if m.concept == concept]
    assert found, f"{concept} not found in {text!r}: {analyse(text, language).mentions}"
    return found[0]


def codes(text: str, language: str | None = None) -> list[str]:
    return [flag.code for flag in red_flags_in(text, language)]


# ------------------------------------------------------------------------------------ French


def test_french_pipeline_is_edsnlp_with_the_three_qualifiers() -> None:
    nlp = eds_pipeline(rules().qualifiers)
    assert {"negation", "hypothesis", "family"} <= set(nlp.pipe_names)
    assert qualifier() is qualifier()  # built once per process


def test_french_negation() -> None:
    m = mention("je n'ai pas de douleur à la poitrine", "chest_pain")
    assert m.negated and not m.affirmed
    assert m.cues["negation"]  # the edsnlp cue ("pas" / "ne") is kept for audit
    assert codes("je n'ai pas de douleur à la poitrine") == []


def test_french_hypothesis() -> None:
    m = mention("si j'ai de la fièvre après l'opération", "fever")
    assert m.hypothetical and not m.affirmed
    assert codes("Si j'ai mal à la poitrine pendant le sport, est-ce que je dois appeler le 15 ?") == []


def test_french_family_history() -> None:
    m = mention("mon père a fait un AVC l'an dernier", "stroke_named")
    assert m.family and m.history and not m.affirmed
    assert codes("mon père a fait un AVC l'an dernier") == []
    assert codes("ma mère a eu un infarctus") == []


@pytest.mark.parametrize(
    "text",
    [
        "pas de fièvre",
        "jai pa de fievre",
        "je n'ai plus de fièvre",
        "sans fièvre",
        "aucune fièvre",
    ],
)
def test_french_negation_forms(text: str) -> None:
    assert mention(text, "fever").negated


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # a symptom that is itself a negative phrase
        ("il ne respire plus", "cardiac_arrest"),
        ("je n'arrive pas à respirer", "breathing_difficulty_severe"),
        ("mon mari ne se réveille pas", "unconscious"),
        # uncertainty still counts (it is not a condition)
        ("je crois que je fais un AVC", "stroke_signs"),
        ("c'est grave ? j'ai mal à la poitrine et je transpire", "chest_pain_cardiac"),
        ("j'ai si mal à la poitrine, je transpire", "chest_pain_cardiac"),
        # a relative's emergency happening now is an emergency for the person writing
        ("mon père a la bouche de travers depuis 10 minutes", "stroke_signs"),
        ("Mon père a fait un AVC il y a 2 ans, et depuis ce matin il a la bouche de travers", "stroke_signs"),
        # a negated symptom does not hide the next one
        ("Je n'ai pas de fièvre mais j'ai très mal à la poitrine et au bras gauche", "chest_pain_cardiac"),
        ("pas de fièvre, douleur thoracique avec sueurs", "chest_pain_cardiac"),
    ],
)
def test_french_still_an_emergency(text: str, code: str) -> None:
    assert code in codes(text)


# ------------------------------------------------------------------------------------ English


@pytest.mark.parametrize("text", ["no chest pain", "I don't have chest pain", "denies chest pain", "without chest pain"])
def test_english_negation(text: str) -> None:
    assert mention(text, "chest_pain").negated
    assert codes(text) == []


def test_english_hypothesis() -> None:
    m = mention("if I get a fever", "fever")
    assert m.hypothetical and not m.affirmed
    assert codes("in case I get chest pain while jogging, what should I do?") == []


def test_english_family_history() -> None:
    m = mention("my father had a stroke", "stroke_named")
    assert m.family and m.history
    assert codes("my father had a stroke") == []
    assert codes("my mother died of a heart attack years ago") == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("I can't breathe", "breathing_difficulty_severe"),
        ("he's not breathing", "cardiac_arrest"),
        ("I think I'm having a heart attack", "chest_pain_cardiac"),
        ("not sure if it's serious but my chest hurts and I'm sweating", "chest_pain_cardiac"),
        ("no fever but chest pain and sweating", "chest_pain_cardiac"),
        ("my husband had chest pain and then collapsed", "loss_of_consciousness"),
        ("my father is having a stroke", "stroke_signs"),
        ("my son had a seizure 10 minutes ago", "seizure"),
    ],
)
def test_english_still_an_emergency(text: str, code: str) -> None:
    assert code in codes(text)


def test_blocked_nose_is_not_a_breathing_emergency() -> None:
    assert codes("je n'arrive pas à respirer par le nez tellement il est bouché") == []
    assert codes("I can't breathe through my nose, it's blocked") == []


def test_cold_sore_is_not_a_fever() -> None:
    assert "fever" not in analyse("j'ai un bouton de fièvre").affirmed
    assert "fever" not in analyse("I have a cold sore").affirmed


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour, je voudrais prendre rendez-vous en cardiologie",
        "je veux annuler mon rendez-vous de demain",
        "Quels sont les horaires des urgences ?",
        "What time does the radiology department open?",
        "je me soigne bien, merci",
        "prise de sang à jeun demain ?",
    ],
)
def test_ordinary_messages_raise_no_flag(text: str) -> None:
    assert red_flags_in(text) == []
