"""Validate a file on disk: pick the format, stream the bytes through its validator."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO, Final

import orjson

from streamdrop.validation import parallel
from streamdrop.validation.base import ItemValidator
from streamdrop.validation.chat import ChatValidator
from streamdrop.validation.feeds import FeedsValidator
from streamdrop.validation.feeds_v3 import FeedsV3Validator
from streamdrop.validation.model import (
    DEFAULT_MAX_ITEM_BYTES,
    MAX_FILE_SIZE,
    Format,
    Options,
    Problem,
    Result,
)
from streamdrop.validation.reader import OnProgress, read_items
from streamdrop.validation.sniff import first_content, one_object_over_lines
from streamdrop.validation.source import NotRegularFile, open_regular

SNIFF_BYTES = 64 * 1024
# How far into a JSON Lines file to look for an item type that tells chat from Feeds v3.
SCAN_BYTES = 64 * 1024 * 1024
_SCAN_CHUNK = 8 * 1024 * 1024

# Item types only one of the two JSON Lines formats has (user, reaction, poll and
# poll_vote are in both).
FEEDS_V3_ONLY: Final = frozenset({"feed", "feed_group", "feed_view", "activity", "comment",
                                  "bookmark", "follow", "collection", "user_interest"})
CHAT_ONLY: Final = frozenset({"device", "future_channel_ban", "channel", "member",
                              "channel_member", "message"})
# An envelope's type where a line starts with it, or ends with it (`{"data": ..., "type": x}`).
_ENVELOPE_TYPE = re.compile(
    rb'^[ \t]*\{[ \t]*"type"[ \t]*:[ \t]*"([a-z_]+)"'
    rb'|"type"[ \t]*:[ \t]*"([a-z_]+)"[ \t]*\}[ \t]*\r?$',
    re.MULTILINE)


def jsonl_product(data: bytes) -> Format | None:
    """"chat-jsonl" or "feeds-v3" from the first envelope whose type only one has; None
    when no complete line of `data` tells (only users, reactions, polls, or nothing)."""
    for match in _ENVELOPE_TYPE.finditer(data):
        kind = (match[1] or match[2]).decode()
        if kind in FEEDS_V3_ONLY:
            return "feeds-v3"
        if kind in CHAT_ONLY:
            return "chat-jsonl"
    return None


def detect_format(head: bytes) -> Format | None:
    """Guess the format from the first bytes of a file; None when it is no JSON at all.

    `[` opens a chat array. A JSON Lines file is feeds instructions when its
    first line carries an `instruction`; otherwise Feeds v3 or chat JSON Lines
    by the first item type only one of them has (chat when none tells:
    `detect_file_format` looks further into the file).
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
        if b'"instruction"' in first_line:
            return "feeds"
    else:
        if isinstance(value, dict) and "instruction" in value:
            return "feeds"
    return jsonl_product(_whole_lines(text)) or "chat-jsonl"


def _whole_lines(text: bytes) -> bytes:
    """`text` without a last line that is cut short (one that does not decode)."""
    cut = text.rfind(b"\n") + 1
    try:
        orjson.loads(text[cut:])
    except orjson.JSONDecodeError:
        return text[:cut]
    return text


def detect_file_format(file: BinaryIO) -> Format | None:
    """`detect_format`, reading on (up to SCAN_BYTES) while the item types seen are in both
    JSON Lines formats; the file is left at its start."""
    head = file.read(SNIFF_BYTES)
    try:
        fmt = detect_format(head)
        if fmt != "chat-jsonl" or jsonl_product(_whole_lines(head)) is not None:
            return fmt
        # Lines are scanned whole: a chunk's last partial line waits for the next one.
        rest = head[head.rfind(b"\n") + 1:]
        read = len(head)
        while read < SCAN_BYTES:
            chunk = file.read(_SCAN_CHUNK)
            if not chunk:
                return jsonl_product(rest) or "chat-jsonl"
            read += len(chunk)
            data = rest + chunk
            cut = data.rfind(b"\n") + 1
            found = jsonl_product(data[:cut])
            if found is not None:
                return found
            rest = data[cut:]
            if len(rest) > DEFAULT_MAX_ITEM_BYTES:  # a line no item may be: not worth holding
                return "chat-jsonl"
        return "chat-jsonl"
    finally:
        file.seek(0)


def detect_path_format(path: Path) -> Format | None:
    """The format of the file at `path` (raises OSError when it cannot be read)."""
    with path.open("rb") as file:
        return detect_file_format(file)


def _validator_for(fmt: Format, options: Options) -> ItemValidator:
    if fmt == "feeds":
        return FeedsValidator(options)
    if fmt == "feeds-v3":
        return FeedsV3Validator(options)
    return ChatValidator(options, jsonl=fmt == "chat-jsonl")


def _whose_limit(max_size: int) -> str:
    if max_size == MAX_FILE_SIZE:
        return "Stream accepts in one import"
    return f"allowed here (Stream accepts {MAX_FILE_SIZE:,} in one import)"


def _refusal(message: str, fmt: Format | None, size: int) -> Result:
    return Result(format=fmt, stats={}, errors=[Problem(message, line=1, offset=0)],
                  warnings=[], error_count=1, warning_count=0, size=size)


def validate_file(file: BinaryIO, size: int, options: Options, fmt: Format | str = "auto",
                  on_progress: OnProgress | None = None, *, path: Path | None = None) -> Result:
    """Validate an open binary file of `size` bytes.

    Given the file's `path` too, a big chat file is checked on two cores (`parallel`).
    """
    if options.max_size and size > options.max_size:
        return _refusal(f"validation error: the file is {size:,} bytes, more than the "
                        f"{options.max_size:,} bytes {_whose_limit(options.max_size)}; it "
                        "was not parsed", None if fmt == "auto" else fmt,  # type: ignore[arg-type]
                        size)
    start, head = first_content(file)
    file.seek(start.offset)
    detected = detect_file_format(file) if fmt == "auto" else fmt
    file.seek(start.offset)
    if detected is None:
        message = ("parse error: the file is empty" if not head
                   else "parse error: not an import file: it does not start with '[' or '{'")
        return _refusal(message, None, size)
    if fmt == "auto" and detected != "chat" and one_object_over_lines(head):
        return _refusal("parse error: expected an array of items or JSON Lines (one item per "
                        "line), found one JSON object spread over several lines", None, size)
    result = None
    if path is not None and detected in parallel.FORMATS:
        result = parallel.validate(path, file, size, options, jsonl=detected == "chat-jsonl",
                                   start=start, on_progress=on_progress)
    if result is None:
        validator = _validator_for(detected, options)  # type: ignore[arg-type]
        file.seek(start.offset)
        read_items(validator, file, array=detected == "chat", start=start,
                   max_item_bytes=options.max_item_bytes, on_progress=on_progress)
        result = validator.finish()
    result.size = size
    return result


def validate_path(path: Path, options: Options | None = None, fmt: Format | str = "auto",
                  on_progress: OnProgress | None = None) -> Result:
    """Validate the file at `path` (raises OSError when it cannot be read).

    Only a regular file is read: a FIFO, a device or a socket is refused
    without a byte read (a FIFO without a writer would wait forever, /dev/zero
    never ends).
    """
    try:
        file = open_regular(path)
    except NotRegularFile as refused:
        return _refusal(f"validation error: {refused}; it was not read", None, 0)
    with file:
        size = os.fstat(file.fileno()).st_size
        return validate_file(file, size, options or Options(), fmt, on_progress, path=path)
