"""The texts the back office and the connectors send themselves exist in every supported language."""

from __future__ import annotations

import string

import pytest

from bot.core.datafiles import load
from bot.core.language import supported_languages

SETTINGS = {"version", "reply_style", "connectors"}


@pytest.mark.parametrize("name", ["messages", "channels"])
def test_every_text_exists_in_every_language_with_the_same_placeholders(name):
    for key, texts in load(name).items():
        if key in SETTINGS:
            continue
        assert set(texts) == set(supported_languages()), key
        fields = {lang: {f for _, f, _, _ in string.Formatter().parse(text) if f} for lang, text in texts.items()}
        assert len({frozenset(f) for f in fields.values()}) == 1, f"{name}.{key}: {fields}"


def test_reply_styles_are_ones_the_engine_knows():
    assert set(load("channels")["reply_style"].values()) <= {"full", "short"}
