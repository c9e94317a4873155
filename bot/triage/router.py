"""`POST /api/triage`: the triage engine's second door (the first is the chat actions).

The back office mounts it with the other domains' routers (bot/main.py).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.triage import triage

router = APIRouter(prefix="/api", tags=["triage"])

Level = Literal[
    "emergency_call", "emergency_department", "same_day", "appointment", "teleconsultation", "pharmacist", "self_care"
]


class TriageRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "douleur thoracique + transpi depuis 20 min"},
                {"text": "mon fils a de la fièvre", "answers": {"age_group": "3 ans", "duration": "depuis hier"}},
                {"text": "I have a sore throat", "age": 24, "language": "en"},
                {"text": "mon bébé a 38,2", "age_months": 5},
                {"text": "he has a fever", "age": 1.5},
            ]
        },
    )

    text: str = Field("", max_length=20_000, description="The patient's own description, in French or English.")
    age: float | None = Field(
        None, ge=0, le=120, allow_inf_nan=False,
        description="Age in years, when known; fractions for young children (1.5 = eighteen months).",
    )
    age_months: int | None = Field(
        None, ge=0, le=1440, description="Age in months, for infants (5 = five months); wins over `age` when both are given."
    )
    sex: Literal["female", "male", "f", "m", "F", "M"] | None = Field(None, description="Sex, when known.")
    language: Literal["fr", "en"] | None = Field(None, description="Reply language; detected from the text if absent.")
    answers: dict[str, str] | None = Field(
        None,
        description="Answers to earlier follow-up questions: question id → option value or the patient's own words "
        '(e.g. {"fever": "38,5", "duration": "depuis hier", "pain_intensity": "8/10", "age_group": "3 mois"}).',
    )

    @field_validator("text", "answers")
    @classmethod
    def _no_nul(cls, value: str | dict[str, str] | None) -> str | dict[str, str] | None:
        # No patient types a NUL; a client that sends one is broken, and told so rather than guessed at.
        strings = [value] if isinstance(value, str) else [*value.keys(), *value.values()] if value else []
        if any("\x00" in string for string in strings):
            raise ValueError("must not contain NUL characters")
        return value

    @model_validator(mode="after")
    def _consistent_age(self) -> TriageRequest:
        if self.age is not None and self.age_months is not None and abs(self.age * 12 - self.age_months) > 12:
            raise ValueError("`age` and `age_months` disagree: send one of them")
        return self

    @property
    def age_years(self) -> float | None:
        return self.age_months / 12 if self.age_months is not None else self.age


class OptionOut(BaseModel):
    value: str
    label: str


class QuestionOut(BaseModel):
    id: str = Field(description="Send the answer back in `answers` under this id.")
    text: str
    options: list[OptionOut] = Field(description="Quick replies; free text is accepted too.")


class NumberOut(BaseModel):
    number: str
    label: str


class RedFlagOut(BaseModel):
    code: str
    level: Level
    numbers: list[str]
    matched: list[str]
    label: dict[str, str]
    service: str


class TriageResponse(BaseModel):
    level: Level = Field(description="Level of care; while `complete` is false, the level for what is known so far.")
    service: str | None = Field(description="Hospital service specialty code that fits, if any.")
    red_flags: list[str] = Field(description="Codes of the life-threatening signs found.")
    reasons: list[str] = Field(description="Why, in the patient's language. Never a diagnosis.")
    follow_up_questions: list[QuestionOut] = Field(description="Questions that would change the decision.")
    safety_net: str = Field(description="What should make the patient call back or call 15.")
    emergency_numbers: list[NumberOut]
    advice: str = Field(description="What to do at this level, in the patient's language.")
    language: Literal["fr", "en"]
    complete: bool = Field(description="False while follow-up questions are pending.")
    flags: list[RedFlagOut] = Field(description="Red flags in detail (numbers to call, matched words).")
    rules_version: str = Field(description="Versions of the rule files that produced this answer.")


@router.post("/triage", response_model=TriageResponse, summary="Orient a patient from their description")
def post_triage(request: TriageRequest) -> TriageResponse:
    """Screen for red flags, then tell which level of care and which service fit, why, and what
    should make the patient call 15. Call again with the accumulated `answers` while `complete` is
    false. A plain function (not async): the engine is CPU-bound and runs in the thread pool."""
    result = triage(
        request.text,
        age=request.age_years,
        sex=request.sex,
        language=request.language,
        answers=request.answers,
    )
    data = result.to_dict()
    data.pop("concepts", None)
    return TriageResponse.model_validate(data)
