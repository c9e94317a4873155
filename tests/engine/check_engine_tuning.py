"""Run in the engine's environment (make test-engine): the engine fix validates as Rasa does.

    .venv-rasa/bin/python tests/engine/check_engine_tuning.py
"""

from __future__ import annotations

import sys

from jsonschema import ValidationError, validate

from connectors import engine_tuning
from rasa.core.actions.action import RemoteAction

GOOD = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "complaint", "value": "mal au ventre"}],
     "responses": [{"text": "Quel âge avez-vous ?", "buttons": [{"title": "Adulte", "payload": "/answer"}]}]},
    {},
]
BAD = [
    {"events": "not a list"},
    {"events": [{"no_event_key": 1}]},
    {"responses": [{"text": 3}], "events": [{"event": "slot", "name": "x"}, 7]},
]


def main() -> int:
    spec = RemoteAction.action_response_format_spec()
    engine_tuning.apply()
    action = RemoteAction("action_x", None)
    failures = []
    for response in GOOD + BAD:
        try:
            validate(response, spec)
            expected = None
        except ValidationError as error:
            expected = error.message
        try:
            action._validate_action_result(response)
            got = None
        except ValidationError as error:
            got = error.message.split(". Failed to validate")[0]
        if got != expected:
            failures.append(f"{response}: Rasa says {expected!r}, the fix says {got!r}")
    if not any(True for r in BAD if _rejected(action, r)):
        failures.append("no bad response was rejected")
    for failure in failures:
        print("FAIL", failure)
    print(f"engine tuning: {len(GOOD) + len(BAD) - len(failures)}/{len(GOOD) + len(BAD)} responses judged as Rasa does")
    return 1 if failures else 0


def _rejected(action: RemoteAction, response: dict) -> bool:
    try:
        action._validate_action_result(response)
    except ValidationError:
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())
