"""SMS text rules: GSM-7 or UCS-2, segments, splitting, keywords, numbered answers."""

from __future__ import annotations

import pytest

from connectors.sms import channel as sms


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Bonjour, RDV à 9h", "GSM-7"), ("Clichés, Ça, éèùàì", "GSM-7"), ("{[€]}", "GSM-7"),
     ("Être", "UCS-2"), ("français", "UCS-2"), ("cœur", "UCS-2"), ("l’hôpital", "UCS-2"), ("ok 👍", "UCS-2")],
)
def test_the_real_gsm7_alphabet_decides_the_encoding(text, encoding):
    assert sms.encoding(text) == encoding


@pytest.mark.parametrize(
    ("text", "count"),
    [("", 1), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
     ("€" * 80, 1), ("€" * 81, 2),  # extension characters take two septets
     ("ê" * 70, 1), ("ê" * 71, 2), ("ê" * 134, 2), ("ê" * 135, 3),
     ("👍" * 35, 1), ("👍" * 36, 2)],  # an emoji is two UTF-16 units
)
def test_segments(text, count):
    assert sms.segments(text) == count


def test_typographic_punctuation_is_replaced_so_a_text_can_stay_gsm7():
    text = "L’accueil « Urgences » — ouvert 24 h/24…"
    assert sms.encoding(text) == "UCS-2"
    assert sms.smart_encode(text) == "L'accueil \" Urgences \" - ouvert 24 h/24..."
    assert sms.encoding(sms.smart_encode(text)) == "GSM-7"


def test_a_short_text_is_one_sms_and_a_long_one_numbered_parts_within_the_segment_budget():
    assert sms.split_sms("Bonjour", 1) == ["Bonjour"]
    text = "Votre examen a lieu au bâtiment B, 2e étage. " * 12
    for budget in (1, 2, 4):
        parts = sms.split_sms(text.strip(), budget)
        assert len(parts) > 1
        assert all(sms.segments(part) <= budget for part in parts)
        assert parts[0].startswith(f"(1/{len(parts)}) ")
        assert " ".join(part.split(" ", 1)[1] for part in parts).split() == text.split()


@pytest.mark.parametrize(
    ("body", "word"),
    [("STOP", "stop"), ("stop", "stop"), (" Stop. ", "stop"), ("ARRÊT", "stop"), ("arret", "stop"),
     ("STOP SMS", "stop"), ("Stop all", "stop"), ("START", "start"), ("start!", "start"),
     ("stop the questions about my knee", None), ("j'arrête de fumer", None), ("CANCEL", None), ("oui", None)],
)
def test_opt_out_keywords_are_whole_messages(body, word):
    assert sms.keyword(body) == word


def test_a_number_picks_an_option_only_when_in_range():
    options = [{"title": "Oui", "payload": "/affirm"}, {"title": "Non", "payload": "/deny"}]
    assert sms.chosen_option("2", options) == "/deny"
    assert sms.chosen_option(" 1) ", options) == "/affirm"
    assert sms.chosen_option("3", options) is None
    assert sms.chosen_option("0", options) is None
    assert sms.chosen_option("2 jours", options) is None
    assert sms.chosen_option("2", []) is None
