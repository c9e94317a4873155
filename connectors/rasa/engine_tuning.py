"""Fixes for Rasa 3.6's hot path, applied when the engine loads the gateway channel. Measured with
py-spy on the engine under `make bench` (ten patients chatting):

- Rasa checks every action-server response with `jsonschema.validate(response, spec)`, which first
  validates the spec itself against the JSON-Schema meta-schema, on every call: 55% of the
  engine's CPU. Here the spec is checked once and one compiled validator is reused: responses are
  validated exactly as before (same spec, same draft, same ValidationError and message).
- `EndpointConfig.request` opens a new aiohttp session, hence a new TCP connection, for every
  call to the action server (and the gateway callback): 10% of the engine's CPU. Here each
  endpoint keeps one session, with aiohttp's keep-alive pool, for the life of the event loop.
- `Event.resolve_by_type` walks every Event subclass (with `inspect.isabstract`) for each event
  it deserialises, i.e. for every stored event of the conversation on every message: 23% of the
  engine's CPU once the two above were gone. Here the type names are indexed once, in Rasa's
  own order (first class wins, as in Rasa's loop); a miss falls back to Rasa's method.

Loaded by the Rasa engine (Python 3.10 environment); imports only Rasa and its dependencies.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any, Dict, Text

import aiohttp
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig


@lru_cache(maxsize=1)
def response_validator() -> Any:
    spec = RemoteAction.action_response_format_spec()
    cls = validator_for(spec)
    cls.check_schema(spec)
    return cls(spec)


def _validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    # best_match, as jsonschema.validate does, so that the error reported is the same one.
    error = best_match(response_validator().iter_errors(result))
    if error is None:
        return True
    # Rasa's own wording, so that logs read the same as without this module.
    error.message += (
        f". Failed to validate Action server response from API, "
        f"make sure your response from the Action endpoint is valid. "
        f"For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


class _KeptSession:
    """What `async with endpoint.session()` gets: the endpoint's one session, left open on exit."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *_: Any) -> None:
        return None


_new_session = EndpointConfig.session


def _kept_session(self: EndpointConfig) -> _KeptSession:
    loop = asyncio.get_running_loop()
    session = getattr(self, "_parcours_session", None)
    if session is None or session.closed or getattr(self, "_parcours_loop", None) is not loop:
        session = _new_session(self)  # Rasa's own settings: headers, basic auth, timeout
        self._parcours_session, self._parcours_loop = session, loop
    return _KeptSession(session)


_resolve_by_type = Event.resolve_by_type
_event_classes: Dict[Text, Any] = {}


def _indexed_resolve_by_type(type_name: Text, default: Any = None) -> Any:
    if type_name not in _event_classes:
        for cls in all_subclasses(Event):  # classes defined since the last miss join the index
            _event_classes.setdefault(cls.type_name, cls)
    return _event_classes.get(type_name) or _resolve_by_type(type_name, default)


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    EndpointConfig.session = _kept_session  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(_indexed_resolve_by_type)  # type: ignore[method-assign]
