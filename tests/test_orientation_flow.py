"""The orientation's questions never dead-end: descriptions add up, unreadable ones are counted,
and the questions stop with the orientation so far (bot/triage/orientation.py)."""

from __future__ import annotations

from bot.triage.orientation import (
    MISSES,
    answer_buttons,
    next_question,
    question_preface,
    questions_are_stuck,
    record_answer,
)

VAGUE = "je ne me sens pas bien"


def test_a_description_the_engine_can_read_moves_the_orientation_on() -> None:
    answers = record_answer(VAGUE, {}, "describe", "j'ai mal au ventre depuis hier", "fr")
    assert MISSES not in answers
    question = next_question(VAGUE, answers, "fr")
    assert question is None or question["id"] != "describe"


def test_an_unreadable_description_is_asked_again_with_quick_replies_then_the_questions_stop() -> None:
    answers = record_answer(VAGUE, {}, "describe", "bof", "fr")
    assert answers[MISSES] == "1"
    question = next_question(VAGUE, answers, "fr")
    assert question is not None and question["id"] == "describe"  # asked again, not silence
    assert question_preface(question, "fr", answers)  # with what kind of answer helps
    buttons = answer_buttons(question, "fr", answers)
    assert len(buttons) >= 4 and all(b["payload"].startswith("/answer") for b in buttons)
    assert not questions_are_stuck(VAGUE, answers, "fr", asked_something_else=False)
    assert questions_are_stuck(VAGUE, answers, "fr", asked_something_else=True)  # a practical question instead
    answers = record_answer(VAGUE, answers, "describe", "je sais pas", "fr")
    assert answers[MISSES] == "2"
    assert questions_are_stuck(VAGUE, answers, "fr", asked_something_else=False)


def test_a_quick_reply_is_read_as_a_description() -> None:
    answers = record_answer(VAGUE, {MISSES: "1", "describe": "bof"}, "describe", "J'ai de la fièvre", "fr")
    assert answers[MISSES] == "1"


def test_the_direct_question_about_suicide_comes_after_3114() -> None:
    preface = question_preface({"id": "suicide_thoughts"}, "fr")
    assert preface is not None and "3114" in preface and "15" in preface
