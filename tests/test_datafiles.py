"""Data files load by name from their domain's folder; the channels' settings are ones the code knows.

(Every text in every language: tests/test_catalogues.py.)
"""

from __future__ import annotations

from bot.core.datafiles import data_files, load


def test_every_data_file_has_a_name_of_its_own():
    names = data_files()
    assert {"messages", "channels", "language", "hospital", "orientation", "red_flags"} <= set(names)
    assert all(path.parent.name == "data" for path in names.values())


def test_reply_styles_are_ones_the_engine_knows():
    assert set(load("channels")["reply_style"].values()) <= {"full", "short"}


def test_loaded_texts_carry_the_emergency_numbers_not_their_codes():
    text = load("messages")["engine_unavailable"]["fr"]
    assert "15" in text and "112" in text and "%" not in text


def test_the_engine_s_responses_reach_the_patient_with_their_numbers():
    from bot.conversation.transcript import Reply

    reply = Reply.from_rasa({"text": "appelez le %samu% ou le %european%", "buttons": [
        {"title": "Appeler le %samu%", "payload": "/affirm"}]})
    assert reply.text == "appelez le 15 ou le 112"
    assert reply.buttons == [{"title": "Appeler le 15", "payload": "/affirm"}]
