"""Log records without health data: SQL parameters and the values drivers and validators echo are redacted.

Patient messages and phone numbers reach the database as statement parameters. SQLAlchemy prints
those parameters in every StatementError's text, so a failed INSERT logged with its traceback (by
our code, uvicorn's "Exception in ASGI application" or Sanic's) would write the patient's words to
the logs. The engines are created with `hide_parameters=True` (bot/core/db.py); this module covers
what that flag does not reach: errors of engines made elsewhere, the drivers' own messages
("invalid input for query argument $1: '…'"), pydantic's `input_value=…`, and SQLAlchemy's echo.

`install()` wraps the log-record factory rather than adding a filter to some handlers: every
record of the process then goes through it, whatever logger made it and whichever handler
(uvicorn's, Sanic's, pytest's) prints it. `RedactingFilter` is the same, for a logging config
that wants it on a handler.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import StatementError

REDACTED = "[redacted]"
# Values that libraries copy into their error text, each with what is kept of it.
_ECHOED_VALUES = (
    (re.compile(r"(query argument \$\d+:).*"), r"\1 " + REDACTED),  # asyncpg's DataError
    (re.compile(r"(input_value=).*?(, input_type=)"), r"\1" + REDACTED + r"\2"),  # pydantic
    (re.compile(r"('input': ).*?(, 'ctx'|, 'url'|\})"), r"\1" + REDACTED + r"\2"),  # FastAPI's validation errors
    (re.compile(r"(\[parameters: ).*?(\]\n|\]$|\n\(Background)", re.S), r"\1" + REDACTED + r"\2"),
)
# Loggers that print statements with their parameters as arguments (the engine's echo, aiosqlite at DEBUG).
_SQL_LOGGERS = ("sqlalchemy.engine", "aiosqlite")

_installed_factory: Callable[..., logging.LogRecord] | None = None


def _chain(error: BaseException | None) -> list[BaseException]:
    """The exception, its causes and contexts, each once."""
    seen: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [current.__cause__, current.__context__]
        if isinstance(current, BaseExceptionGroup):
            pending += list(current.exceptions)
    return seen


def scrub(text: str) -> str:
    for pattern, replacement in _ECHOED_VALUES:
        text = pattern.sub(replacement, text)
    return text


def redact(record: logging.LogRecord) -> logging.LogRecord:
    """The record, with statement parameters and echoed values out of its arguments and traceback."""
    if record.name.startswith(_SQL_LOGGERS) and record.args:
        args = record.args if isinstance(record.args, tuple) else (record.args,)
        record.args = tuple(a if isinstance(a, str | int | float) else REDACTED for a in args)
    if record.exc_info and record.exc_info[1] is not None:
        for error in _chain(record.exc_info[1]):
            if isinstance(error, StatementError):
                # Also hides them from whoever reads the exception itself (error trackers, str()).
                error.hide_parameters = True
        # Rendered now, once: a formatter uses this text rather than formatting the exception again.
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        record.exc_text = scrub(record.exc_text)
    return record


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redact(record)
        return True


def install() -> None:
    """Every log record of this process is redacted as it is made. Safe to call more than once."""
    global _installed_factory
    current = logging.getLogRecordFactory()
    if _installed_factory is not None and current is _installed_factory:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact(current(*args, **kwargs))

    _installed_factory = factory
    logging.setLogRecordFactory(factory)
