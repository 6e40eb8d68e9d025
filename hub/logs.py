"""The one logging setup of every process: web (gunicorn or the dev server), worker, scheduler, CLI.

``setup_logging`` puts one handler on the root logger and the ``RedactingFilter`` on every handler
it finds (gunicorn's own error and access handlers get it from ``hub.serving.glogging``). The
filter masks phone numbers, emails and the configured secrets (``hub.domain.redaction``) in the
message and in exception text, before any handler formats the record. ``CTIHUB_LOG_FORMAT=json``
writes one JSON object per line with ``ts``, ``level``, ``logger``, ``message``, the ids in play
(``hub.services.log_context``) and ``exc`` when there is a traceback.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from hub.domain.redaction import Redactor
from hub.services.log_context import current_ids

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Settings whose values are secrets: masked wherever they would appear in a log line.
_SECRET_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PRIVATE_KEY|API_KEY|_KEY)$")
REDACTOR = Redactor()
# SQLAlchemy's statement echo stays off even at DEBUG (it is a development aid, not a log).
_QUIET = {"alembic": logging.WARNING, "apscheduler": logging.WARNING, "sqlalchemy": logging.WARNING}


def secret_values(environment: Mapping[str, str], *extra: str | None) -> list[str]:
    """The values of every ``CTIHUB_*`` setting named like a secret, plus ``extra`` (and the long
    lines of multi-line values, such as a PEM private key)."""
    values: list[str] = [value for value in extra if value]
    for name, value in environment.items():
        if _SECRET_NAME.search(name) and value:
            values.append(value)
            values += [line.strip() for line in value.splitlines() if len(line.strip()) >= 16]
    return values


def register_secrets(values: Iterable[str | None]) -> None:
    """Mask these values from now on (e.g. sandbox secrets generated after logging was set up)."""
    REDACTOR.add_secrets(values)


class RedactingFilter(logging.Filter):
    """Masks the record's message and exception text in place; never drops a record."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self.redactor = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_ctihub_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what we have rather than nothing
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = self.redactor.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.mask(record.stack_info)
        record._ctihub_masked = True
        return True


def _ids_suffix() -> str:
    ids = current_ids()
    return " [" + " ".join(f"{k}={v}" for k, v in ids.items()) + "]" if ids else ""


class TextFormatter(logging.Formatter):
    """The classic line, plus the ids in play in brackets."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        suffix = _ids_suffix()
        if not suffix:
            return text
        first, newline, rest = text.partition("\n")
        return first + suffix + newline + rest


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the ids in play, exc, extra fields."""

    EXTRA_FIELDS = ("method", "route", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: REDACTOR.mask(v) for k, v in current_ids().items()})
        for name in self.EXTRA_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def make_formatter(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    return JsonFormatter() if log_format == "json" else TextFormatter()


def protect_handler(handler: logging.Handler, log_format: str | None = None) -> None:
    """Put the redacting filter on ``handler`` (once) and, when given, the format."""
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())
    if log_format is not None:
        handler.setFormatter(make_formatter(log_format))


def protect_all_handlers(log_format: str | None = None) -> None:
    """Every handler of every logger known so far, and the last-resort handler."""
    loggers: list[logging.Logger] = [logging.getLogger()]
    known = logging.Logger.manager.loggerDict.values()
    loggers += [item for item in known if isinstance(item, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            protect_handler(handler, log_format)
    if logging.lastResort is not None:
        protect_handler(logging.lastResort)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr


def setup_logging(
    *,
    level: int | str = logging.INFO,
    log_format: str = "text",
    environment: Mapping[str, str] | None = None,
    secrets: Iterable[str | None] = (),
    stream: Any = None,
) -> None:
    """Configure the process's logging: one root handler to ``stream`` (stderr), masked, formatted.

    Idempotent: calling it again replaces the root handler it installed before.
    """
    register_secrets(secret_values(environment or {}))
    register_secrets(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ctihub", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream) if stream is not None else StderrHandler()
    handler._ctihub = True  # type: ignore[attr-defined]
    protect_handler(handler, log_format)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, logging.getLogger().level))
    protect_all_handlers()
