"""`python -m connectors.rasa.serve <rasa run options>`: Rasa's own `rasa run`, with its HTTP API
token taken from the environment instead of the command line.

Rasa 3.6 reads its API token only from `--auth-token`, and a process's arguments are readable by
every user of the machine (`ps`, /proc/<pid>/cmdline), while its environment is readable by its
owner only. The token is added to Rasa's argument list inside this process, after the operating
system has recorded the command line, and Rasa's own entry point is called in-process.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

TOKEN_VARIABLE = "PARCOURS_GATEWAY_TOKEN"


class MissingToken(SystemExit):
    pass


def rasa_arguments(arguments: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The arguments `rasa` would have been given: `run`, the options, and the token."""
    if "--auth-token" in arguments:
        # Refused rather than honoured: a token given here is already visible to every user.
        raise MissingToken("pass the engine's API token in $" + TOKEN_VARIABLE + ", not on the command line")
    token = environ.get(TOKEN_VARIABLE)
    if not token:
        raise MissingToken(f"${TOKEN_VARIABLE} is not set: the engine's HTTP API would be open")
    return ["run", *arguments, "--auth-token", token]


def main() -> None:
    arguments = rasa_arguments(sys.argv[1:], os.environ)
    # Imported late: Rasa takes seconds to import, and the arguments are checked first.
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *arguments]
    sys.exit(rasa_main())


if __name__ == "__main__":
    main()
