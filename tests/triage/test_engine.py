"""The public API of the triage engine: results, follow-up questions, answers, bad input."""

from __future__ import annotations

import json
import random

import pytest

from bot.triage import LEVELS, SERVICES, RedFlag, TriageResult, red_flags_in, triage
from tests.triage._table import TABLES, load

QUESTION_IDS = {"age_group", "pregnancy", "fever", "pain_intensity", "duration", "worsening", "chronic_condition"}


def test_levels() -> None:
    assert LEVELS == (
        "emergency_call", "emergency_department", "same_day", "appointment", "teleconsultation", "pharmacist", "self_care",
    )


def test_red_flag_shape_and_numbers() -> None:
    (flag,) = red_flags_in("douleur thoracique + transpi")
    assert isinstance(flag, RedFlag)
    assert flag.code == "chest_pain_cardiac" and flag.level == "emergency_call"
    assert flag.numbers[:3] == ["15", "112", "114"]
    assert set(flag.label) == {"fr", "en"} and all(flag.label.values())
    assert flag.matched  # the patient's words
    suicide = red_flags_in("je veux mourir")[0]
    assert suicide.code == "suicidal_intent" and "3114" in suicide.numbers and "114" in suicide.numbers
    poisoning = red_flags_in("mon fils a avalé des médicaments")[0]
    assert poisoning.code == "poisoning" and len(poisoning.numbers) == 4  # + the poison centre


def test_emergency_result() -> None:
    result = triage("J'ai une douleur dans la poitrine qui serre et je transpire")
    assert isinstance(result, TriageResult)
    assert result.level == "emergency_call" and result.complete
    assert result.red_flags == ["chest_pain_cardiac"]
    assert result.follow_up_questions == []
    assert result.language == "fr"
    assert "15" in result.advice and "114" in result.advice
    assert any(r.startswith("Parce que vous décrivez") for r in result.reasons)
    assert [n.number for n in result.emergency_numbers][:3] == ["15", "112", "114"]
    json.dumps(result.to_dict())


def test_english_result_is_in_english() -> None:
    result = triage("I have a sore throat and a fever of 38.8 since yesterday")
    assert result.language == "en" and result.level == "same_day"
    assert any(r.startswith("Because you describe") for r in result.reasons)
    assert "Call 15" in result.safety_net


def test_language_parameter_wins() -> None:
    result = triage("chest pain and sweating", language="fr")
    assert result.language == "fr"
    assert result.reasons[0].startswith("Parce que")


def test_follow_up_questions_then_complete() -> None:
    result = triage("J'ai de la fièvre")
    assert not result.complete
    assert 1 <= len(result.follow_up_questions) <= 3
    assert {q.id for q in result.follow_up_questions} <= QUESTION_IDS
    for question in result.follow_up_questions:
        assert question.text and question.options and all(o.value and o.label for o in question.options)
    answers: dict[str, str] = {}
    for _round in range(6):
        if result.complete:
            break
        for question in result.follow_up_questions:
            answers[question.id] = question.options[-1].value
        result = triage("J'ai de la fièvre", answers=answers)
    assert result.complete and result.level in LEVELS


def test_no_questions_when_the_message_says_it_all() -> None:
    result = triage("J'ai 45 ans, mal au dos depuis 3 mois, pas de fièvre, douleur 4/10")
    assert result.complete and result.level == "appointment"


@pytest.mark.parametrize(
    ("text", "answers", "level"),
    [
        ("mon bébé a de la fièvre", {"age_group": "6 semaines"}, "emergency_department"),
        ("mon bébé a de la fièvre", {"age_group": "lt3m"}, "emergency_department"),
        ("mon bébé a de la fièvre", {"age_group": "Moins de 3 mois"}, "emergency_department"),
        ("J'ai mal au ventre", {"pain_intensity": "8/10", "age_group": "30"}, "emergency_department"),
        ("J'ai mal au ventre", {"pain_intensity": "8"}, "emergency_department"),
        ("J'ai de la fièvre", {"age_group": "35 ans", "duration": "depuis 5 jours"}, "same_day"),
        ("J'ai de la fièvre", {"age_group": "35", "fever": "40,2"}, "same_day"),
        ("I have a fever", {"age_group": "82", "duration": "since yesterday"}, "same_day"),
        ("I have a fever", {"age_group": "30", "duration": "since yesterday", "fever": "38.4", "chronic_condition": "no"}, "self_care"),
        ("I have a headache", {"age_group": "30", "pregnancy": "no", "fever": "no", "duration": "2 hours"}, "self_care"),
        ("J'ai mal au ventre", {"pregnancy": "oui"}, "emergency_department"),
        ("J'ai mal au ventre", {"pregnancy": "je ne sais pas"}, "emergency_department"),
    ],
)
def test_answers_as_options_or_free_text(text: str, answers: dict, level: str) -> None:
    assert triage(text, answers=answers).level == level


def test_answered_questions_are_not_asked_again() -> None:
    first = triage("J'ai mal au ventre")
    asked = {q.id for q in first.follow_up_questions}
    second = triage("J'ai mal au ventre", answers=dict.fromkeys(asked, "je ne sais pas"))
    assert not asked & {q.id for q in second.follow_up_questions}


def test_pregnancy_question_only_when_it_can_apply() -> None:
    assert "pregnancy" in {q.id for q in triage("J'ai mal au ventre").follow_up_questions}
    assert "pregnancy" not in {q.id for q in triage("J'ai mal au ventre", sex="male").follow_up_questions}
    assert "pregnancy" not in {q.id for q in triage("J'ai mal au ventre", age=75).follow_up_questions}


def test_age_and_sex_parameters() -> None:
    assert triage("J'ai de la fièvre avec de la toux", age=82).level == "same_day"
    assert triage("fièvre depuis ce matin", age=0).level == "emergency_department"  # a newborn


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("Mon fils de 5 ans a 39 de fièvre depuis 3 jours", "paediatrics"),
        ("Mon bébé de 6 semaines a 38,5 de fièvre", "paediatric_emergency"),
        ("Je suis enceinte de 8 semaines et je saigne", "maternity"),
        ("un grain de beauté a changé de couleur et grossi", "dermatology"),
        ("I found a lump in my breast", "gynaecology"),
        ("J'ai mal au dos depuis 3 mois", "orthopaedics"),
        ("Depuis ce matin je ne vois plus rien de l'oeil gauche", "ophthalmology"),
        ("Je me sens déprimé depuis plusieurs mois", "psychiatry"),
    ],
)
def test_service_routing(text: str, service: str) -> None:
    assert triage(text).service == service


BAD_INPUTS = [
    "",
    "   ",
    "😀😀😀",
    "???",
    "asdkjh qwe zzz",
    "a" * 6000,
    "mal " * 3000,
    "je " * 5000 + "ne",
    "\x00\x01\x02",
    "ᚠᛇᚻ᛫ᛒᛦᚦ",
    "١٢٣ مرحبا",
    "' ' ' - - - ... ,,,, ;;;",
    "3 mois 38,5 8/10 depuis hier",
    "pas pas pas ne ne ne si si si",
]


@pytest.mark.parametrize("text", BAD_INPUTS, ids=[repr(t[:20]) for t in BAD_INPUTS])
def test_bad_input_never_raises(text: str) -> None:
    flags = red_flags_in(text)
    assert isinstance(flags, list)
    result = triage(text)
    assert result.level in LEVELS
    assert "15" in result.safety_net and "114" in result.safety_net
    json.dumps(result.to_dict())


def test_random_garbage_never_raises() -> None:
    rng = random.Random(3)
    alphabet = "abcdefghijklmnopqrstuvwxyzéèàç0123456789 .,;:!?'’-/°+&😀\n"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        answers = {rng.choice(sorted(QUESTION_IDS)): "".join(rng.choice(alphabet) for _ in range(10))}
        assert triage(text, answers=answers, age=rng.choice([None, 0, 40, 130])).level in LEVELS


def test_nothing_recognisable_asks_to_describe() -> None:
    result = triage("😀")
    assert not result.complete and result.level in LEVELS
    assert [q.id for q in result.follow_up_questions] == ["describe"]
    assert "15" in result.safety_net
    assert [n.number for n in result.emergency_numbers][:3] == ["15", "112", "114"]
    described = triage("😀", answers={"describe": "j'ai mal à la gorge depuis hier, pas de fièvre"}, age=30)
    assert described.level == "pharmacist"


# Words a patient-facing text must never contain: the assistant does not diagnose or prescribe.
FORBIDDEN = [
    "infarctus", "appendicite", "méningite", "embolie", "accident vasculaire", "avc", "septicémie",
    "heart attack", "stroke", "appendicitis", "meningitis", "embolism", "sepsis",
    "diagnos", "je vous prescris", "i prescribe", "vous devez prendre", "you should take", "antibiotique", "antibiotic", "ibuprof", "paracétamol", "paracetamol",
    "doliprane", "aspirine", "aspirin", "amoxicilline", " mg",
]


def test_outputs_never_diagnose_or_prescribe() -> None:
    for name in TABLES:
        for case in load(name):
            result = triage(case["text"], age=case.get("age"), sex=case.get("sex"))
            texts = [*result.reasons, result.safety_net, result.advice]
            texts += [q.text for q in result.follow_up_questions] + [o.label for q in result.follow_up_questions for o in q.options]
            lowered = " ".join(texts).lower()
            for word in FORBIDDEN:
                assert word not in lowered, (case["text"], word, texts)


def test_results_only_use_known_services() -> None:
    for name in TABLES:
        for case in load(name):
            service = triage(case["text"]).service
            assert service is None or service in SERVICES
