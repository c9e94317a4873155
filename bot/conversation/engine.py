"""The back office's client of the Rasa engine: one HTTP client, real HTTP between the processes.

Messages go in through the gateway channel (connectors/rasa/gateway.py) which answers with the
replies synchronously; the engine's REST API serves health, external events and trackers.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx

from bot.core.config import env, settings

log = logging.getLogger(__name__)

# An emergency is known before the engine is asked: on a red-flag turn the engine gets this long
# (waiting behind the conversation's earlier turns included) before the back office answers
# itself, so the patient reads the emergency number within a second whatever the engine does.
EMERGENCY_TIMEOUT = float(env("PARCOURS_EMERGENCY_ENGINE_TIMEOUT", "0.8"))


class EngineUnavailable(RuntimeError):
    """Rasa (or the action server behind it) did not answer in time or answered with an error."""


_client: httpx.AsyncClient | None = None


def client() -> httpx.AsyncClient:
    global _client
    if _client is None or _client.is_closed:
        s = settings()
        _client = httpx.AsyncClient(
            base_url=s.rasa_url,
            timeout=httpx.Timeout(s.rasa_timeout, connect=2.0),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
            headers={"Authorization": f"Bearer {s.gateway_token}"},
        )
    return _client


async def close() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
    _client = None


async def send_to_engine(conversation_id: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """One patient message through the gateway; the engine's replies to it."""
    body = {"sender": conversation_id, "text": text, "metadata": metadata}
    try:
        response = await client().post("/webhooks/gateway/webhook", json=body)
    except httpx.HTTPError as error:
        raise EngineUnavailable(type(error).__name__) from error
    if response.status_code != 200:
        raise EngineUnavailable(f"gateway answered {response.status_code}")
    replies = response.json().get("replies", [])
    # Rasa answers an action-server failure with no reply at all; the patient must not face silence.
    if not replies:
        raise EngineUnavailable("engine gave no reply")
    return replies


async def trigger_intent(
    conversation_id: str, intent: str, entities: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Start a turn the patient did not start (a check-in, a reminder); replies leave via the gateway."""
    s = settings()
    try:
        response = await client().post(
            f"/conversations/{conversation_id}/trigger_intent",
            params={"output_channel": "gateway", "token": s.gateway_token},
            json={"name": intent, "entities": entities or {}},
        )
    except httpx.HTTPError as error:
        raise EngineUnavailable(type(error).__name__) from error
    if response.status_code != 200:
        raise EngineUnavailable(f"trigger_intent answered {response.status_code}")
    return response.json()


async def engine_status() -> str:
    try:
        response = await client().get("/status", params={"token": settings().gateway_token}, timeout=2.0)
    except httpx.HTTPError:
        return "down"
    if response.status_code != 200:
        return "down"
    return "ok" if response.json().get("model_id") else "no model"


async def action_server_status() -> str:
    url = settings().action_server_url.rsplit("/webhook", 1)[0] + "/health"
    try:
        response = await client().get(url, timeout=2.0)
    except httpx.HTTPError:
        return "down"
    return "ok" if response.status_code == 200 else "down"
