"""POST /api/triage, through a minimal app that includes the router (as the lead's app does)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot.triage.router import router


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_emergency(client: TestClient) -> None:
    response = client.post("/api/triage", json={"text": "douleur thoracique + transpi depuis 20 min"})
    assert response.status_code == 200
    body = response.json()
    assert body["level"] == "emergency_call"
    assert body["red_flags"] == ["chest_pain_cardiac"]
    assert body["complete"] is True and body["follow_up_questions"] == []
    assert [n["number"] for n in body["emergency_numbers"]][:3] == ["15", "112", "114"]
    assert body["flags"][0]["numbers"][:3] == ["15", "112", "114"]
    assert body["language"] == "fr" and body["reasons"] and body["safety_net"] and body["rules_version"]


def test_follow_up_round_trip(client: TestClient) -> None:
    first = client.post("/api/triage", json={"text": "mon bébé a de la fièvre"}).json()
    assert first["complete"] is False
    assert first["follow_up_questions"][0]["id"] == "age_group"
    assert first["follow_up_questions"][0]["options"]
    second = client.post("/api/triage", json={"text": "mon bébé a de la fièvre", "answers": {"age_group": "2 mois"}}).json()
    assert second["level"] == "emergency_department"
    assert second["service"] == "paediatric_emergency"
    assert second["red_flags"] == ["infant_fever"]


def test_english_with_age(client: TestClient) -> None:
    body = client.post("/api/triage", json={"text": "sore throat since yesterday, no fever", "age": 24, "language": "en"}).json()
    assert body["level"] == "pharmacist" and body["language"] == "en"


def test_empty_text_asks_to_describe(client: TestClient) -> None:
    body = client.post("/api/triage", json={"text": ""}).json()
    assert body["complete"] is False
    assert body["follow_up_questions"][0]["id"] == "describe"
    assert "15" in body["safety_net"]


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "x", "age": -1},
        {"text": "x", "age": "old"},
        {"text": "x", "language": "de"},
        {"text": "x", "unknown": 1},
        {"text": "x", "answers": {"fever": 39}},
        {"text": "x" * 20_001},
    ],
)
def test_invalid_requests(client: TestClient, payload: dict) -> None:
    assert client.post("/api/triage", json=payload).status_code == 422


def test_documented_in_openapi(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/triage"]["post"]
    assert operation["tags"] == ["triage"]
    assert "TriageResponse" in schema["components"]["schemas"]


def test_ages_in_months_and_fractions_of_a_year(client: TestClient) -> None:
    months = client.post("/api/triage", json={"text": "il a 38,2 de fièvre", "age_months": 1}).json()
    assert months["level"] == "emergency_department" and months["red_flags"] == ["infant_fever"]
    fraction = client.post("/api/triage", json={"text": "he has a fever of 38.5", "age": 1.5}).json()
    assert fraction["level"] != "emergency_call"


@pytest.mark.parametrize(
    "payload",
    [
        {"text": "fièvre", "age": -1},
        {"text": "fièvre", "age": 200},
        {"text": "fièvre", "age_months": -3},
        {"text": "fièvre", "age_months": 5000},
        {"text": "fièvre", "age": 30, "age_months": 5},
    ],
)
def test_absurd_ages_are_refused_clearly(client: TestClient, payload: dict) -> None:
    response = client.post("/api/triage", json=payload)
    assert response.status_code == 422
    assert "age" in response.text
