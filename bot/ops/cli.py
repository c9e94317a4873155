"""`python -m bot <command>`: the back office's command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

from bot.core.config import VAR, settings

if TYPE_CHECKING:
    from bot.ops.supervisor import Stack


def cmd_migrate(_: argparse.Namespace) -> None:
    from bot.ops.migrate import upgrade

    upgrade()
    print("database schema is up to date")


async def _seed() -> None:
    from bot.core import db
    from bot.hospital.seed import seed

    async with db.session_scope() as session:
        report = await seed(session)
    await db.dispose()
    print(f"demo hospital seeded: {report}")


def cmd_seed(_: argparse.Namespace) -> None:
    asyncio.run(_seed())


def cmd_train(args: argparse.Namespace) -> None:
    from bot.ops.supervisor import train

    seconds = train(force=args.force)
    print(f"model trained in {seconds:.0f} s" if seconds else "model is up to date (inputs unchanged)")


def cmd_run(args: argparse.Namespace) -> None:
    """Everything `make run` promises: schema, demo data, model, the three processes, URLs."""
    from bot.ops.supervisor import Stack, StackError

    cmd_migrate(args)
    cmd_seed(args)
    print("training the engine's model if its inputs changed…", flush=True)
    cmd_train(args)
    stack = Stack()
    stop_on_signals(stack)
    print("starting the engine, the action server and the back office…", flush=True)
    try:
        seconds = stack.start()
    except StackError as error:
        sys.exit(f"could not start Parcours: {error}")
    s = settings()
    staff_token = "$PARCOURS_STAFF_TOKEN" if os.environ.get("PARCOURS_STAFF_TOKEN") else VAR / "staff.token"
    print(
        f"\nParcours is running (started in {seconds:.0f} s).\n"
        f"  Chat with the assistant: {s.backoffice_url}/\n"
        f"  API documentation:       {s.backoffice_url}/docs\n"
        f"  Health:                  {s.backoffice_url}/health\n"
        f"  Staff API token:         {staff_token} (Authorization: Bearer …, e.g. /api/outbox)\n"
        f"  Logs:                    {VAR / 'logs'}\n"
        "A process that stops is restarted; the others keep serving. Press Ctrl-C to stop everything.",
        flush=True,
    )
    supervise_until_stopped(stack)


def stop_on_signals(stack: Stack) -> None:
    """Ctrl-C and SIGTERM stop the whole stack (each child has its own session: only the launcher gets them)."""

    def stop(*_: object) -> None:
        # Only a flag: the supervisor may hold its lock at this instant; it returns and stops everything.
        stack.request_stop()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def supervise_until_stopped(stack: Stack) -> None:
    """Restarts whichever process dies, the others serving meanwhile, until a signal asks to stop."""
    try:
        stack.supervise()
    finally:
        print("\nstopping…", flush=True)
        stack.stop()
        print("stopped.")


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Their INFO lines (each migration plugin, each health-check request) drown what `make run` says.
    for chatty in ("alembic", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(prog="python -m bot", description="Parcours back office")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="create or upgrade the database schema").set_defaults(func=cmd_migrate)
    commands.add_parser("seed", help="load the demo hospital (idempotent)").set_defaults(func=cmd_seed)
    train = commands.add_parser("train", help="train the engine's model if its inputs changed")
    train.add_argument("--force", action="store_true", help="train even if nothing changed")
    train.set_defaults(func=cmd_train)
    run = commands.add_parser("run", help="migrate, seed, train if needed and start the whole stack")
    run.add_argument("--force", action="store_true", help=argparse.SUPPRESS)
    run.set_defaults(func=cmd_run)
    args = parser.parse_args(argv)
    args.func(args)
