"""Validate a file on disk: pick the format, stream the bytes through its validator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import orjson

from streamdrop.validation.base import ItemValidator
from streamdrop.validation.chat import ChatValidator
from streamdrop.validation.feeds import FeedsValidator
from streamdrop.validation.model import Format, Options, Problem, Result
from streamdrop.validation.reader import ArrayReader, LinesReader, OnProgress

SNIFF_BYTES = 64 * 1024


def detect_format(head: bytes) -> Format | None:
    """Guess the format from the first bytes of a file; None when it is no JSON at all.

    `[` opens a chat array. A JSON Lines file is feeds when its first line
    carries an `instruction`, chat otherwise.
    """
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    if text.startswith(b"["):
        return "chat"
    if not text.startswith(b"{"):
        return None
    first_line = text.split(b"\n", 1)[0]
    try:
        value = orjson.loads(first_line)
    except orjson.JSONDecodeError:
        return "feeds" if b'"instruction"' in first_line else "chat-jsonl"
    if isinstance(value, dict) and "instruction" in value:
        return "feeds"
    return "chat-jsonl"


def _validator_for(fmt: Format, options: Options) -> ItemValidator:
    if fmt == "feeds":
        return FeedsValidator(options)
    return ChatValidator(options, jsonl=fmt == "chat-jsonl")


def _refusal(message: str, fmt: Format | None, size: int) -> Result:
    return Result(format=fmt, stats={}, errors=[Problem(message, line=1, offset=0)],
                  warnings=[], error_count=1, warning_count=0, size=size)


def validate_file(file: BinaryIO, size: int, options: Options, fmt: Format | str = "auto",
                  on_progress: OnProgress | None = None) -> Result:
    """Validate an open binary file of `size` bytes."""
    if options.max_size and size > options.max_size:
        return _refusal(f"validation error: the file is {size:,} bytes, more than the "
                        f"{options.max_size:,} bytes Stream accepts; it was not parsed",
                        None if fmt == "auto" else fmt, size)  # type: ignore[arg-type]
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    detected = detect_format(head) if fmt == "auto" else fmt
    if detected is None:
        message = ("parse error: the file is empty" if not head.strip()
                   else "parse error: not an import file: it does not start with '[' or '{'")
        return _refusal(message, None, size)
    validator = _validator_for(detected, options)  # type: ignore[arg-type]
    if isinstance(validator, ChatValidator) and detected == "chat":
        ArrayReader(file, validator.feed_region, validator.feed_many, validator.parse_error,
                    on_progress).read()
    else:
        LinesReader(file, validator.feed, validator.parse_error, on_progress).read()
    result = validator.finish()
    result.size = size
    return result


def validate_path(path: Path, options: Options | None = None, fmt: Format | str = "auto",
                  on_progress: OnProgress | None = None) -> Result:
    """Validate the file at `path` (raises OSError when it cannot be read)."""
    with path.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        return validate_file(file, size, options or Options(), fmt, on_progress)
