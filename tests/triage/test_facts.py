"""Reading numbers and words from free text: age, temperature, pain, duration, sex, yes/no."""

from __future__ import annotations

import pytest

from bot.core.language import likely_language
from bot.triage.facts import parse_age, parse_duration, parse_pain, parse_sex, parse_temperature, parse_yes_no
from bot.triage.text import normalize, tokenize


def n(text: str) -> str:
    return normalize(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Je n'ai pas de douleur à la poitrine", ["je", "ne", "ai", "pas", "de", "douleur", "a", "la", "poitrine"]),
        ("jai mal o ventre", ["je", "ai", "mal", "au", "ventre"]),
        ("douleur thoracique + transpi", ["douleur", "thoracique", "et", "transpi"]),
        ("I can't breathe", ["i", "cannot", "breathe"]),
        ("mallllll à la tête", ["mal", "a", "la", "tete"]),
        ("grand-père", ["grand", "pere"]),
        ("38,5", ["38.5"]),
    ],
)
def test_tokenize(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("j'ai 45 ans", 45),
        ("un homme de 67 ans", 67),
        ("A 64-year-old man", 64),
        ("my 5 yo son", 5),
        ("I'm 79 and I've got a fever", 79),
        ("bébé de 2 mois", 2 / 12),
        ("my 18 month old", 1.5),
        ("bébé de 6 semaines", 6 * 7 / 365.25),
        ("Mon bébé a 3 semaines", 3 * 7 / 365.25),
        ("my 5 week old", 5 * 7 / 365.25),
    ],
)
def test_parse_age(text: str, age: float) -> None:
    found = parse_age(n(text))
    assert found is not None and found[0] == pytest.approx(age, abs=0.01)


@pytest.mark.parametrize("text", ["mal au dos depuis 3 ans", "il y a 2 ans", "enceinte de 3 mois", "20 weeks pregnant", "for 2 years"])
def test_not_an_age(text: str) -> None:
    assert parse_age(n(text)) is None


def test_age_words_are_ranges() -> None:
    assert parse_age(n("mon bébé")) == (0.0, 1.99)
    assert parse_age(n("nouveau-né")) == (0.0, 0.08)
    assert parse_age(n("3 mois"), answer=True) == (0.25, 0.25)
    assert parse_age(n("45"), answer=True) == (45.0, 45.0)


@pytest.mark.parametrize(
    ("text", "temperature"),
    [
        ("39,5 de fièvre", 39.5),
        ("fièvre à 38", 38.0),
        ("mon bébé a 38,5", 38.5),
        ("temperature of 38.3", 38.3),
        ("39°5", 39.5),
        ("102 F", 38.9),
    ],
)
def test_parse_temperature(text: str, temperature: float) -> None:
    assert parse_temperature(n(text)) == pytest.approx(temperature)


@pytest.mark.parametrize("text", ["j'ai 38 ans", "enceinte de 37 semaines", "il pèse 40 kg"])
def test_not_a_temperature(text: str) -> None:
    assert parse_temperature(n(text)) is None


def test_parse_temperature_answer() -> None:
    assert parse_temperature(n("38,5"), answer=True) == 38.5


@pytest.mark.parametrize(
    ("text", "pain"),
    [("douleur 8/10", 8), ("7 sur 10", 7), ("8 out of 10", 8), ("douleur insupportable", 9.5), ("mild pain", 2)],
)
def test_parse_pain(text: str, pain: float) -> None:
    assert parse_pain(n(text)) == pain


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("depuis 3 jours", 72, 72),
        ("for 2 weeks", 336, 336),
        ("depuis hier", 12, 47.9),
        ("since this morning", 0, 23.9),
        ("il y a 2 heures", 2, 2),
        ("3 days ago", 72, 72),
        ("depuis quelques jours", 48, 167.9),
        ("depuis des mois", 1008, 100000),
    ],
)
def test_parse_duration(text: str, low: float, high: float) -> None:
    assert parse_duration(n(text)) == (low, high)


def test_parse_duration_answer() -> None:
    assert parse_duration(n("3 jours"), answer=True) == (72, 72)


def test_parse_sex_and_yes_no() -> None:
    assert parse_sex(n("je suis une femme de 30 ans")) == "female"
    assert parse_sex(n("a 60 year old man")) == "male"
    assert parse_sex(n("j'ai mal")) is None
    assert parse_yes_no(n("oui")) is True and parse_yes_no(n("Yes!")) is True
    assert parse_yes_no(n("non")) is False and parse_yes_no(n("nope")) is False
    assert parse_yes_no(n("euh")) is None


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("j'ai mal au ventre", "fr"),
        ("jai mal o ventre", "fr"),
        ("douleur thoracique", "fr"),
        ("I have a headache", "en"),
        ("my chest hurts", "en"),
        ("chest pain", "en"),
        ("😀", "fr"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert likely_language(text, "fr") == language
