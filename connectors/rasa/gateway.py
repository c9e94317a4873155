"""The one Rasa channel Parcours uses: the back office talks to the engine through it, both ways.

Loaded by the Rasa engine (Python 3.10 environment) from credentials.yml; imports only Rasa.
- In: the back office POSTs {"sender", "text", "metadata"} to /webhooks/gateway/webhook with its
  bearer token and gets the engine's replies in the response (synchronous, like REST).
- Out, unprompted: for `trigger_intent?output_channel=gateway` (check-ins, reminders) the replies
  are POSTed to the back office's callback URL, which delivers them on the patient's own channel.
"""

from __future__ import annotations

import gc
import hmac
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.callback import CallbackOutput
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.utils.endpoints import EndpointConfig
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.rasa import engine_tuning

engine_tuning.apply()


class GatewayOutput(CallbackOutput):
    """Sends unprompted bot messages back to the back office."""

    @classmethod
    def name(cls) -> Text:
        return "gateway"


class GatewayInput(InputChannel):
    @classmethod
    def name(cls) -> Text:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "GatewayInput":
        credentials = credentials or {}
        token = credentials.get("token")
        if not token:
            raise ValueError("the gateway channel needs a `token` in credentials.yml")
        return cls(token=token, callback_url=credentials.get("callback_url"))

    def __init__(self, token: Text, callback_url: Optional[Text]) -> None:
        self.token = token
        self.callback_url = callback_url

    def _authorised(self, request: Request) -> bool:
        supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(supplied.encode(), self.token.encode())

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        gateway = Blueprint("gateway_webhook", __name__)

        @gateway.listener("after_server_start")
        async def settle_heap(*_: Any) -> None:
            # The model is loaded: collect once and freeze what survives, so that full garbage
            # collections no longer walk TensorFlow's objects (250 ms stalls; see bot/core/startup.py).
            gc.collect()
            gc.freeze()

        @gateway.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @gateway.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not self._authorised(request):
                return response.json({"error": "unauthorised"}, status=401)
            body = request.json if isinstance(request.json, dict) else None
            if not body or not isinstance(body.get("sender"), str) or not isinstance(body.get("text"), str):
                return response.json({"error": "expected {sender: str, text: str, metadata?: object}"}, status=400)
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    body["text"], collector, body["sender"], input_channel=self.name(), metadata=metadata
                )
            )
            return response.json({"replies": collector.messages})

        return gateway

    def get_output_channel(self) -> Optional[GatewayOutput]:
        if not self.callback_url:
            return None
        return GatewayOutput(EndpointConfig(self.callback_url, headers={"Authorization": f"Bearer {self.token}"}))
