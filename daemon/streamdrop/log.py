"""Logging: structlog to stderr, JSON lines when not a terminal, short lines on one; no secrets.

Third-party libraries log through the standard library; their records are
routed through the same processors, so every line of a daemon's stderr is one
JSON object. httpx and httpcore log full request URLs (presigned upload URLs,
`api_key`) at INFO: they are held at WARNING, and a last processor scrubs
anything shaped like a JWT or a signed URL wherever it appears. What other
libraries say below a warning (alembic's migration steps, Apprise's "Notifying 1
service(s)", uvicorn's start-up) is debug here. On a terminal a record is one short
line (`HH:MM:SS level event file=... sha=<12> key=value ...`); JSON keeps every value whole.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.types import EventDict, Processor

QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "watchfiles", "asyncio", "aiosqlite",
                 "alembic.runtime.plugins",
                 "urllib3", "uvicorn.access")
# Their info is chatter for our readers: shown as debug (warnings and errors stay as they are).
CHATTY_LOGGERS = ("alembic", "apprise", "uvicorn")
NOISE_KEYS = ("color_message",)  # uvicorn's ANSI-coloured copy of `event`
# Not worth a terminal line's room: the logger's name, where the process runs, the default target.
CONSOLE_HIDDEN = frozenset({"logger", "timestamp", "level", "event", "owner", "exception"})
CONSOLE_FIRST = ("file", "sha256", "task_id", "state", "import_id")
CONSOLE_NAMES = {"sha256": "sha", "task_id": "task"}
SHA_LENGTH = 12
VALUE_WIDTH = 120
SECRET_KEYS = frozenset({"api_secret", "secret", "token", "jwt", "authorization", "password",
                         "upload_url"})
_JWT = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]+")
_SIGNED_QUERY = re.compile(r"(https?://[^\s?\"']+)\?[^\s\"']*(?:signature|sig=|token|api_key|"
                           r"X-Amz-)[^\s\"']*", re.IGNORECASE)


def scrub_text(text: str) -> str:
    text = _JWT.sub("[jwt]", text)
    return _SIGNED_QUERY.sub(r"\1?[redacted]", text)


def printable(text: str) -> str:
    """Text any log line, report or database can hold: a file name's undecodable bytes
    (kept by Python as lone surrogates) are written `\\xff`."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "replace")
        return raw.decode("utf-8", "backslashreplace")
    return text


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def scrub(_logger: Any, _name: str, event: EventDict) -> EventDict:
    """Drop secret-named fields and blank out JWTs and signed URLs in every value."""
    for key in list(event):
        value = event[key]
        if key.lower() in SECRET_KEYS:
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = printable(scrub_text(value))
    return event


def drop_noise(_logger: Any, _name: str, event: EventDict) -> EventDict:
    for key in NOISE_KEYS:
        event.pop(key, None)
    return event


class Demote(logging.Filter):
    """Third-party records below a warning become debug records, dropped unless at debug."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or not record.name.startswith(CHATTY_LOGGERS):
            return True
        if self.threshold > logging.DEBUG:
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


# -- the terminal's short lines -------------------------------------------------------

_BARE = re.compile(r"^[\w@:/.,+~%-]+$")  # written without quotes
_COLOURS = {"warning": "\033[33m", "error": "\033[31m", "critical": "\033[31m",
            "debug": "\033[2m"}


def console_value(value: Any) -> str:
    """A value as `key=value` wants it: no Python reprs, long ones cut."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, Mapping):  # counts of nothing say nothing: left out
        text = ",".join(f"{k}:{console_value(v)}" for k, v in value.items() if v not in (0, None))
    elif isinstance(value, list | tuple | set | frozenset):
        text = ",".join(console_value(v) for v in value)
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    if len(text) > VALUE_WIDTH:
        text = text[:VALUE_WIDTH - 1] + "…"
    return text if _BARE.match(text) else orjson.dumps(text).decode()


def _console_fields(event: EventDict) -> list[str]:
    keys = [k for k in CONSOLE_FIRST if k in event]
    keys += [k for k in event if k not in CONSOLE_FIRST and k not in CONSOLE_HIDDEN]
    fields = []
    for key in keys:
        value = event[key]
        if value is None or (key == "target" and value == "default"):
            continue
        if key == "sha256" and isinstance(value, str):
            value = value[:SHA_LENGTH]
        text = console_value(value)
        if text not in ("", '""'):
            fields.append(f"{CONSOLE_NAMES.get(key, key)}={text}")
    return fields


class ConsoleLines:
    """`HH:MM:SS level event file=... sha=... key=value`: one short line per record."""

    def __init__(self, colors: bool) -> None:
        self.colors = colors

    def __call__(self, _logger: Any, _name: str, event: EventDict) -> str:
        level = str(event.get("level", "info"))
        stamp = str(event.get("timestamp", ""))[11:19]
        head = f"{level:<7}"
        if self.colors and level in _COLOURS:
            head = f"{_COLOURS[level]}{head}\033[0m"
        line = " ".join([stamp, head, str(event.get("event", "")), *_console_fields(event)])
        exception = event.get("exception")
        return f"{line}\n{exception}" if exception else line


def _dumps(obj: Any, **_kw: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        drop_noise,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Set up structlog and the standard library's root logger to write to `stream` (stderr)."""
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Processor = (structlog.processors.JSONRenderer(serializer=_dumps) if as_json
                           else ConsoleLines(colors=stream.isatty()))
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, drop_noise,
                    structlog.processors.format_exc_info, scrub, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(Demote(logging.getLevelName(level.upper())))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*_shared(), structlog.processors.StackInfoRenderer(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def task_context(task: Any) -> MutableMapping[str, Any]:
    """The fields every log line about a task carries."""
    fields: dict[str, Any] = {"task_id": task.id, "file": task.rel_path, "sha256": task.sha256,
                              "mode": task.mode, "target": task.target}
    if task.import_id:
        fields["import_id"] = task.import_id
    return fields
