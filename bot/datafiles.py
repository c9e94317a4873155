"""Reads the YAML data files in bot/data once per process."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data"


@lru_cache
def load(name: str) -> dict[str, Any]:
    with (DATA / f"{name}.yml").open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def fold(text: str) -> str:
    """Lowercase without accents: how patients type, and how we compare."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("’", "'")


def localized(texts: dict[str, str], language: str, fallback: str = "fr") -> str:
    return texts.get(language) or texts.get(fallback) or next(iter(texts.values()), "")


def message(key: str, language: str) -> str:
    return localized(load("messages")[key], language)
