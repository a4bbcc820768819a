"""Logging: structlog to stderr, JSON lines when not a terminal, readable on one; no secrets.

Third-party libraries log through the standard library; their records are
routed through the same processors, so every line of a daemon's stderr is one
JSON object. httpx and httpcore log full request URLs (presigned upload URLs,
`api_key`) at INFO: they are held at WARNING, and a last processor scrubs
anything shaped like a JWT or a signed URL wherever it appears.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog
from structlog.types import EventDict, Processor

QUIET_LOGGERS = ("httpx", "httpcore", "hpack", "watchfiles", "asyncio", "aiosqlite",
                 "alembic.runtime.plugins",
                 "urllib3", "uvicorn.access")
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


def _dumps(obj: Any, **_kw: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


def configure(level: str = "info", fmt: str = "auto", stream: TextIO | None = None) -> None:
    """Set up structlog and the standard library's root logger to write to `stream` (stderr)."""
    stream = stream or sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Processor = (structlog.processors.JSONRenderer(serializer=_dumps) if as_json
                           else structlog.dev.ConsoleRenderer(colors=stream.isatty()))
    final: list[Processor] = [structlog.processors.format_exc_info] if as_json else []
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, scrub,
                    *final, renderer],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
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
