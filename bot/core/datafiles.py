"""Reads the YAML data files once per process.

Each domain keeps its data files in its own `data/` folder (`bot/hospital/data/hospital.yml`,
`bot/triage/data/orientation.yml`…); a file is loaded by its name, which is unique across domains.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot.core.numbers import fill_numbers_in

BOT = Path(__file__).resolve().parents[1]


@lru_cache
def data_files() -> dict[str, Path]:
    """Every domain's data file by name; two files of the same name would be ambiguous, so refused."""
    found: dict[str, Path] = {}
    for path in sorted(BOT.glob("*/data/*.yml")):
        if path.stem in found:
            raise RuntimeError(f"two data files named {path.stem}: {found[path.stem]} and {path}")
        found[path.stem] = path
    return found


def data_path(name: str) -> Path:
    return data_files()[name]


@lru_cache
def load(name: str) -> dict[str, Any]:
    """A data file, its texts' number placeholders (%samu%…) filled from emergency_numbers.yml."""
    with data_path(name).open(encoding="utf-8") as handle:
        data: dict[str, Any] = fill_numbers_in(yaml.safe_load(handle))
    return data


def fold(text: str) -> str:
    """Lowercase without accents: how patients type, and how we compare."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


def localized(texts: dict[str, str], language: str) -> str:
    """The text in this language, else in the first language that has one."""
    return texts.get(language) or next(iter(texts.values()), "")


def message(key: str, language: str) -> str:
    return localized(load("messages")[key], language)
