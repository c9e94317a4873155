"""Every patient-facing text exists in every supported language, with the same placeholders.

One test over every catalogue: the back office's data files (each domain's `data/`), the engine's
responses (domain.yml), the web page's texts and the widget's. Read raw, before the emergency
numbers are filled, so that a text naming `%samu%` in French and `%european%` only in English,
or a number code that emergency_numbers.yml does not declare, is caught here.
"""

from __future__ import annotations

import re
import string
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.language import supported_languages
from bot.core.numbers import emergency_numbers, placeholders_in

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = frozenset(supported_languages())
# Data files that hold words to recognise, not texts to show.
NOT_TEXTS = {"qualifiers", "recall_examples", "recall_examples_dev", "language"}
DATA_FILES = sorted(p for p in ROOT.glob("bot/*/data/*.yml") if p.stem not in NOT_TEXTS)
# A map keyed by language codes is a text, whichever languages it has (a missing or an undeclared
# one is then reported, not skipped).
_LANGUAGE_CODE = re.compile(r"[a-z]{2}")
# Numbers no other text has, and the short ones where a sentence calls them ("appelez le 15").
_EMERGENCY_NUMBER = re.compile(
    r"(?<![\d%])(?:112|114|3114|3919|3624|3237|116 117)(?![\d%])"
    r"|\b(?:le|au|call|dial|text|appelez|composez)\s+(?:15|17|18|119)(?![\d%])", re.I)


def placeholders(text: str) -> frozenset[str]:
    fields = {f"{{{name}}}" for _, name, _, _ in string.Formatter().parse(text) if name}
    return frozenset(fields | {f"%{code}%" for code in placeholders_in(text)})


def localized_texts(data: Any, where: str = "") -> list[tuple[str, dict[str, str]]]:
    """Every {language: text} map in a data file, wherever it sits."""
    found = []
    if isinstance(data, dict):
        if data and all(_LANGUAGE_CODE.fullmatch(str(k)) for k in data) and all(isinstance(v, str) for v in data.values()):
            return [(where, data)]
        for key, value in data.items():
            found += localized_texts(value, f"{where}.{key}")
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found += localized_texts(item, f"{where}[{index}]")
    return found


def check(where: str, texts: dict[str, str]) -> list[str]:
    problems = []
    if set(texts) != LANGUAGES:
        problems.append(f"{where}: languages {sorted(texts)} instead of {sorted(LANGUAGES)}")
    shapes = {language: placeholders(text) for language, text in texts.items()}
    if len(set(shapes.values())) > 1:
        problems.append(f"{where}: placeholders differ between languages: {shapes}")
    declared = emergency_numbers().numbers
    for language, text in texts.items():
        unknown = placeholders_in(text) - set(declared)
        if unknown:
            problems.append(f"{where} ({language}): undeclared number codes {sorted(unknown)}")
        if _EMERGENCY_NUMBER.search(text):
            problems.append(f"{where} ({language}): an emergency number typed out, not named by its code: {text[:80]}")
    return problems


@pytest.mark.parametrize("path", DATA_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_every_text_of_a_data_file_exists_in_every_language(path: Path) -> None:
    texts = localized_texts(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert texts, f"{path} holds no texts: list it in NOT_TEXTS"
    problems = [problem for where, text in texts for problem in check(path.stem + where, text)]
    assert not problems, "\n".join(problems)


def test_the_web_page_texts_exist_in_every_language() -> None:
    data = yaml.safe_load((ROOT / "connectors/web/demo_texts.yml").read_text(encoding="utf-8"))
    problems = [problem for where, text in localized_texts(data) for problem in check("demo_texts" + where, text)]
    assert not problems, "\n".join(problems)


def _condition_language(condition: list[dict[str, Any]]) -> tuple[str | None, frozenset[tuple[str, str]]]:
    language, others = None, set()
    for item in condition or []:
        if item.get("name") == "language":
            language = item.get("value")
        else:
            others.add((str(item.get("name")), str(item.get("value"))))
    return language, frozenset(others)


def test_every_engine_response_exists_in_every_language_with_the_same_placeholders() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    problems = []
    for name, variants in domain["responses"].items():
        groups: dict[tuple[frozenset[tuple[str, str]], str | None], dict[str, str]] = defaultdict(dict)
        for variant in variants:
            language, others = _condition_language(variant.get("condition"))
            if language is None:
                problems.append(f"{name}: a variation without a language condition")
                continue
            shown = " ".join([variant.get("text", "")] + [b.get("title", "") for b in variant.get("buttons", [])])
            groups[(others, variant.get("channel"))][language] = shown
        for (others, channel), texts in groups.items():
            problems += check(f"domain.yml {name} {sorted(others)} {channel or ''}".strip(), texts)
    assert not problems, "\n".join(problems)


def test_the_widget_has_every_text_in_every_language() -> None:
    """The widget's own strings (its `TEXTS` table, one object per language)."""
    source = (ROOT / "connectors/web/widget.js").read_text(encoding="utf-8")
    tables = dict(re.findall(r"\n    (\w\w): \{\n(.*?)\n    \}", source, re.S))
    assert set(tables) == LANGUAGES
    strings = {language: dict(re.findall(r'^\s+(\w+): "((?:[^"\\]|\\.)*)"', body, re.M))
               for language, body in tables.items()}
    keys = {language: set(texts) for language, texts in strings.items()}
    assert len({frozenset(k) for k in keys.values()}) == 1, keys
    problems = []
    for key in strings[next(iter(LANGUAGES))]:
        problems += check(f"widget.js {key}", {language: strings[language][key] for language in LANGUAGES})
    assert not problems, "\n".join(problems)


def test_emergency_numbers_are_labelled_in_every_language() -> None:
    for code, number in emergency_numbers().numbers.items():
        assert set(number.label) == LANGUAGES, code
