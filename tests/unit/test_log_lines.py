"""Logs for people on a terminal, data in JSON: short `key=value` lines, 12-character shas, no
Python reprs, third-party chatter below info, `color_message` dropped; JSON keeps it all."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from streamdrop import log

SHA = "0123456789abcdef" * 4


class Stream(io.StringIO):
    def isatty(self) -> bool:
        return False


@pytest.fixture
def configured() -> Iterator[tuple[Stream, Stream]]:
    """configure() into a console stream, and one into a JSON stream, restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    console, as_json = Stream(), Stream()
    yield console, as_json
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
    structlog.reset_defaults()


def configure(level: str, fmt: str, stream: Stream) -> None:
    """log.configure, without caching loggers: a logger cached here would keep this
    configuration in later tests (structlog.testing.capture_logs among them)."""
    log.configure(level, fmt, stream)
    structlog.configure(cache_logger_on_first_use=False)


def emit_task_found() -> None:
    structlog.get_logger("streamdrop.test").info(
        "task.found", task_id=3, file="insert/2026/11/x.jsonl", sha256=SHA, mode="insert",
        target="default", import_id=None, stats={"users": 2, "messages": 1204},
        owner="host:1:abc")


def test_a_console_line_is_short_with_key_values_and_a_12_character_sha(
        configured: tuple[Stream, Stream]) -> None:
    console, _ = configured
    configure("info", "console", console)
    emit_task_found()
    (line,) = console.getvalue().splitlines()
    fields = line.split()
    assert fields[1:3] == ["info", "task.found"]
    assert fields[3:6] == ["file=insert/2026/11/x.jsonl", "sha=0123456789ab", "task=3"]
    assert "stats=users:2,messages:1204" in fields and "mode=insert" in fields
    for absent in ("import_id", "None", "{", "'", "target=", "logger", "owner", SHA):
        assert absent not in line
    assert len(line) < 120


def test_json_keeps_every_value_whole(configured: tuple[Stream, Stream]) -> None:
    _, as_json = configured
    configure("info", "json", as_json)
    emit_task_found()
    record = json.loads(as_json.getvalue())
    assert record["sha256"] == SHA
    assert record["stats"] == {"users": 2, "messages": 1204}
    assert record["import_id"] is None and record["target"] == "default"


@pytest.mark.parametrize(("value", "text"), [
    ("plain", "plain"), ("two words", '"two words"'), (None, "None"), (True, "true"),
    ([1, 2], "1,2"), ({"a": {"b": 1}}, "a:b:1"), (2.5, "2.5"), ("x" * 500, '"' + "x" * 119 + '…"'),
])
def test_console_values_are_not_python_reprs(value: object, text: str) -> None:
    assert log.console_value(value) == text


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_color_message_is_dropped_in_both_forms(configured: tuple[Stream, Stream],
                                                fmt: str) -> None:
    console, _ = configured
    configure("info", fmt, console)
    logging.getLogger("uvicorn.error").warning(
        "Started server process [%d]", 7,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"})
    out = console.getvalue()
    assert "Started server process [7]" in out
    assert "color_message" not in out and "\x1b[36m" not in out


@pytest.mark.parametrize("name", ["alembic.runtime.migration", "apprise", "uvicorn.error"])
def test_third_party_info_is_debug_and_their_warnings_stay(configured: tuple[Stream, Stream],
                                                            name: str) -> None:
    console, as_json = configured
    configure("info", "console", console)
    logging.getLogger(name).info("Running upgrade -> 0001")
    logging.getLogger(name).warning("something to know")
    logging.getLogger("streamdrop.x").info("ours at info")
    out = console.getvalue()
    assert "Running upgrade" not in out
    assert "something to know" in out and "ours at info" in out
    configure("debug", "json", as_json)
    logging.getLogger(name).info("Running upgrade -> 0001")
    (record,) = [json.loads(line) for line in as_json.getvalue().splitlines()]
    assert (record["event"], record["level"]) == ("Running upgrade -> 0001", "debug")


def _fail_with_a_signed_url() -> None:
    raise ValueError("GET https://s3.example/u?X-Amz-Signature=abc failed")


def test_an_exception_follows_its_line_scrubbed(configured: tuple[Stream, Stream]) -> None:
    console, _ = configured
    configure("info", "console", console)
    try:
        _fail_with_a_signed_url()
    except ValueError:
        structlog.get_logger("streamdrop.test").exception("task.unexpected_error", task_id=1)
    first, *rest = console.getvalue().splitlines()
    assert first.split()[2:] == ["task.unexpected_error", "task=1"]
    assert any("ValueError" in line for line in rest)
    assert "Signature=abc" not in console.getvalue()
