"""The architecture, as the imports show it.

- `bot/` never imports `connectors/`: channels register themselves (bot.messaging.channels).
- `connectors/rasa/` runs inside Rasa's Python 3.10 environment: it imports neither `bot/` nor
  another connector.
- Only a domain's router modules (and the app that mounts them) import a web framework.
- `actions/` runs in the action server: it may call `bot/` services, never a connector.
- Languages are declared once (language.yml); the types that enumerate them follow it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Literal, get_args, get_origin

import pytest

from bot.core.language import supported_languages

ROOT = Path(__file__).resolve().parents[1]
WEB_FRAMEWORKS = ("fastapi", "starlette")
# The modules of bot/ allowed to import a web framework: each domain's router, the app, and the
# staff-token dependency the routers share.
ROUTERS = {"bot/main.py", "bot/core/auth.py", "bot/ops/health.py"} | {
    str(p.relative_to(ROOT)) for p in ROOT.glob("bot/*/*router.py")
}


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def offending(folder: str, forbidden: tuple[str, ...], allowed: set[str] = frozenset()) -> list[str]:
    return [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sources(folder) if str(path.relative_to(ROOT)) not in allowed
        for module in sorted(imports_of(path)) if module.split(".")[0] in forbidden or module.startswith(forbidden)
    ]


def test_bot_never_imports_a_connector():
    assert not offending("bot", ("connectors",))


def test_the_engine_side_imports_nothing_of_the_app():
    problems = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in sources("connectors/rasa") for module in sorted(imports_of(path))
        if module.split(".")[0] == "bot" or (module.startswith("connectors.") and not module.startswith("connectors.rasa"))
    ]
    assert not problems


def test_only_routers_import_a_web_framework():
    assert not offending("bot", WEB_FRAMEWORKS, ROUTERS)


def test_actions_call_services_not_connectors():
    assert not offending("actions", ("connectors",))


@pytest.mark.parametrize("folder", ["connectors/web", "connectors/telegram", "connectors/sms"])
def test_each_patient_channel_registers_itself(folder):
    assert "bot.messaging.channels" in imports_of(ROOT / folder / "__init__.py")


def test_the_configured_channels_are_the_channel_packages():
    from bot.core.datafiles import load

    packages = {f"connectors.{p.parent.name}" for p in ROOT.glob("connectors/*/__init__.py") if p.parent.name != "rasa"}
    assert set(load("channels")["connectors"]) == packages


def test_types_that_enumerate_languages_follow_language_yml():
    from bot.triage import router, schema

    declared = set(supported_languages())
    assert set(get_args(schema.Language)) == declared
    for model in (router.TriageRequest, router.TriageResponse):
        annotation = model.model_fields["language"].annotation
        literal = annotation if get_origin(annotation) is Literal else next(
            arg for arg in get_args(annotation) if get_origin(arg) is Literal)
        assert set(get_args(literal)) == declared, model.__name__
