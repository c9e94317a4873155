"""A fix for Rasa 3.6's hot path, applied when the engine loads the gateway channel.

Rasa checks every action-server response with `jsonschema.validate(response, spec)`, which first
validates the spec itself against the JSON-Schema meta-schema, on every call. `make bench` under
py-spy put that meta-schema check at 55% of the engine's CPU with ten patients chatting. Here the
spec is checked once and one compiled validator is reused: responses are validated exactly as
before (same spec, same draft, same ValidationError and message), only without the repeated
self-check.

Loaded by the Rasa engine (Python 3.10 environment); imports only Rasa and its dependencies.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Text

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


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


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
