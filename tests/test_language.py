import pytest

from bot.core.language import choose_language, detect_language, requested_language


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("ok", "en", "en"),
        ("oui", "en", "en"),
        ("merci", "en", "en"),
        ("3", "en", "en"),
        ("😀😀😀", "en", "en"),
        ("ok", "fr", "fr"),
        ("yes", "fr", "fr"),
        ("Can we speak English?", "fr", "en"),
        ("english please", "fr", "en"),
        ("en français svp", "en", "fr"),
        ("en francais stp", "en", "fr"),
        ("Parlez-vous anglais ?", "fr", "en"),
        ("jai mal o ventre depuis hier", "en", "fr"),
        ("c quoi les horaires de la cardio stp", "en", "fr"),
        ("Bonjour, je voudrais un rdv en radiologie", "en", "fr"),
        ("what are the opening hours of cardiology", "fr", "en"),
        ("where is the maternity ward", "fr", "en"),
        ("I have a headache since yesterday", "fr", "en"),
        ("my daughter has a fever", "fr", "en"),
        ("ma fille a de la fievre", "en", "fr"),
    ],
)
def test_the_language_follows_the_patient_but_short_words_keep_it(text, current, expected):
    assert choose_language(text, current) == expected


def test_a_new_conversation_without_clear_language_starts_in_french():
    assert choose_language("ok", None) == "fr"


@pytest.mark.parametrize(
    ("text", "expected"), [("hello", "en"), ("Hi!", "en"), ("good morning", "en"), ("bonjour", "fr"), ("slt", "fr"),
                           ("ok", "fr")],
)
def test_a_greeting_sets_the_language_of_a_first_message_only(text, expected):
    assert choose_language(text, "fr", first_message=True) == expected
    # Later in a conversation a greeting is no reason to switch.
    assert choose_language(text, "fr") == "fr"


def test_explicit_requests_win_over_the_language_they_are_written_in():
    # Written in French, asking for English.
    assert requested_language("est-ce qu'on peut parler en anglais") == "en"
    assert choose_language("do you speak french?", "en") == "fr"


def test_unsupported_languages_keep_the_current_one():
    assert detect_language("¿Dónde está el hospital? Necesito ayuda por favor") in (None,)
