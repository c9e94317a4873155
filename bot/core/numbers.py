"""The numbers a patient may need (15, 112, 114, 3114…), declared once in `emergency_numbers.yml`.

Texts name a number by its code between percent signs ("appelez le %samu%"); `fill_numbers` puts
the number in. Percent signs because every other placeholder syntax is taken: `{slot}` is Rasa's
(it would log an error for an unknown slot) and str.format's, and the widget's JavaScript is full
of braces. Data files are filled as they are loaded (`bot.core.datafiles.load`), the engine's
responses as they reach the back office, the widget as it is served.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

PATH = Path(__file__).resolve().parent / "data" / "emergency_numbers.yml"
_PLACEHOLDER = re.compile(r"%([a-z][a-z_]*)%")


class Number(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    number: str = Field(pattern=r"^[0-9][0-9 ]*$")
    label: dict[str, str]


class EmergencyNumbers(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    numbers: dict[str, Number]
    default_numbers: tuple[str, ...] = Field(min_length=1)  # given with every emergency

    @model_validator(mode="after")
    def _defaults_declared(self) -> EmergencyNumbers:
        unknown = [code for code in self.default_numbers if code not in self.numbers]
        if unknown:
            raise ValueError(f"default_numbers names undeclared numbers: {unknown}")
        return self


@lru_cache
def emergency_numbers() -> EmergencyNumbers:
    with PATH.open(encoding="utf-8") as handle:
        return EmergencyNumbers.model_validate(yaml.safe_load(handle))


def placeholders_in(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def fill_numbers(text: str) -> str:
    """The text with each %code% replaced by its number; an unknown code is left as written (the
    catalogue test refuses it) rather than hiding the sentence around it."""
    if "%" not in text:
        return text
    numbers = emergency_numbers().numbers
    return _PLACEHOLDER.sub(lambda m: numbers[m[1]].number if m[1] in numbers else m[0], text)


def fill_numbers_in(data: Any) -> Any:
    """Every string of a loaded data file, filled."""
    if isinstance(data, str):
        return fill_numbers(data)
    if isinstance(data, dict):
        return {key: fill_numbers_in(value) for key, value in data.items()}
    if isinstance(data, list):
        return [fill_numbers_in(item) for item in data]
    return data
