"""Run in the engine's environment (make test-engine): the engine fix validates as Rasa does.

    .venv-rasa/bin/python tests/engine/check_engine_tuning.py
"""

from __future__ import annotations

import sys

from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from connectors.rasa import engine_tuning

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


async def _requests_share_one_connection() -> list[str]:
    """Three calls through one endpoint: one TCP connection, same answers and errors as Rasa's."""
    from aiohttp import web
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    peers = []

    async def handle(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        if request.path.endswith("/fail"):
            return web.json_response({"error": "no"}, status=500)
        return web.json_response({"echo": await request.json(), "auth": request.headers.get("Authorization")})

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    failures = []
    try:
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", headers={"Authorization": "Bearer t"})
        for n in range(3):
            answer = await endpoint.request(json={"n": n})
            if answer != {"echo": {"n": n}, "auth": "Bearer t"}:
                failures.append(f"request {n} answered {answer}")
        try:
            await endpoint.request(subpath="fail", json={})
            failures.append("an HTTP 500 did not raise ClientResponseError")
        except ClientResponseError as error:
            if error.status != 500:
                failures.append(f"error status {error.status}")
        if len(set(peers)) != 1:
            failures.append(f"{len(set(peers))} connections for {len(peers)} requests")
    finally:
        await runner.cleanup()
    return failures


def _events_resolve_as_rasa_resolves() -> list[str]:
    from rasa.shared.core.events import ActionExecuted, Event
    from rasa.shared.utils.common import all_subclasses

    original = engine_tuning._resolve_by_type
    failures = []
    names = {cls.type_name for cls in all_subclasses(Event)} | {"topic"}
    for name in sorted(names):
        if Event.resolve_by_type(name) is not original(name):
            failures.append(f"event type {name!r} resolves to {Event.resolve_by_type(name)}, Rasa says {original(name)}")
    if Event.resolve_by_type("no_such_event", ActionExecuted) is not ActionExecuted:
        failures.append("an unknown event type does not fall back to the default")
    try:
        Event.resolve_by_type("no_such_event")
        failures.append("an unknown event type without default does not raise")
    except ValueError:
        pass
    return failures


async def _tracker_store_matches_rasas() -> list[str]:
    """Our tracker store writes the rows Rasa's writes, and either store reads the other's."""
    import tempfile
    from pathlib import Path

    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from connectors.rasa.tracker_store import ParcoursTrackerStore

    domain = Domain.load("domain.yml")
    turns = [
        [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
         UserUttered("bonjour", {"name": "greet", "confidence": 0.99}), SlotSet("language", "fr"),
         ActionExecuted("utter_greet"), BotUttered("Bonjour !"), ActionExecuted("action_listen")],
        [UserUttered("jai mal au ventre", {"name": "describe_symptoms", "confidence": 0.9}),
         SlotSet("complaint", "jai mal au ventre"), ActionExecuted("triage_form"), ActionExecuted("action_listen")],
        [SessionStarted(), ActionExecuted("action_listen"), UserUttered("merci", {"name": "thank", "confidence": 1.0})],
    ]
    failures = []
    with tempfile.TemporaryDirectory() as folder:
        databases = {}
        for name, store_class in (("rasa", SQLTrackerStore), ("ours", ParcoursTrackerStore)):
            path = str(Path(folder) / f"{name}.db")
            store = store_class(domain, dialect="sqlite", db=path)
            tracker = None
            for events in turns:
                tracker = await store.retrieve("patient") or DialogueStateTracker("patient", domain.slots)
                for event in events:
                    tracker.update(event)
                await store.save(tracker)
            databases[name] = (store, path)
        rows = {}
        for name, (_, path) in databases.items():
            engine = sa.create_engine(f"sqlite:///{path}")
            with engine.connect() as connection:
                rows[name] = [tuple(row) for row in connection.execute(sa.text(
                    "select sender_id, type_name, intent_name, action_name, data from events order by id"))]
            engine.dispose()
        if rows["ours"] != rows["rasa"]:
            failures.append(f"stored rows differ: {len(rows['ours'])} ours, {len(rows['rasa'])} Rasa's")
        ours, rasa = databases["ours"][0], databases["rasa"][0]
        for label, store in (("ours", ours), ("Rasa's", rasa)):
            retrieved = await store.retrieve("patient")
            full = await store.retrieve_full_tracker("patient")
            if [e.as_dict() for e in retrieved.events] != [e.as_dict() for e in (await rasa.retrieve("patient")).events]:
                failures.append(f"{label} store reads the latest session differently")
            if len(full.events) != sum(len(t) for t in turns):
                failures.append(f"{label} store's full tracker has {len(full.events)} events")
        if await ours.retrieve("nobody") is not None:
            failures.append("an unknown conversation is not None")
    return failures


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
    print(f"engine tuning: {len(GOOD) + len(BAD) - len(failures)}/{len(GOOD) + len(BAD)} responses judged as Rasa does")
    import asyncio

    connection_failures = asyncio.run(_requests_share_one_connection())
    if not connection_failures:
        print("engine tuning: calls to an endpoint share one connection")
    failures += connection_failures
    event_failures = _events_resolve_as_rasa_resolves()
    if not event_failures:
        print("engine tuning: every event type resolves to Rasa's class")
    failures += event_failures
    store_failures = asyncio.run(_tracker_store_matches_rasas())
    if not store_failures:
        print("engine tuning: the tracker store writes and reads what Rasa's does")
    failures += store_failures
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


def _rejected(action: RemoteAction, response: dict) -> bool:
    try:
        action._validate_action_result(response)
    except ValidationError:
        return True
    return False


if __name__ == "__main__":
    sys.exit(main())
