"""The action server in one process: rasa_sdk's own app, without Sanic's process manager.

`python -m rasa_sdk` runs Sanic's manager even for a single worker: the primary process imports
the actions (and builds the triage pipeline) and a spawned worker imports them all again, so the
action server held twice the memory it needs (589 MB under `make bench`). It also listens on
every interface by default; the action server only ever talks to the engine on this machine.

    python -m actions.server [--host 127.0.0.1] [--port 5055]
"""

from __future__ import annotations

import argparse
import logging

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

from bot.core import logs
from bot.core.startup import settle_heap


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m actions.server")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    logs.install()  # the actions write to the database too: Sanic's tracebacks must not print its parameters
    utils.configure_colored_logging("INFO")
    logging.getLogger("matplotlib").setLevel(logging.WARNING)

    executor = ActionExecutor()
    executor.register_package("actions")  # builds the triage pipeline
    app = create_app(executor, cors_origins=None)
    settle_heap()
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
