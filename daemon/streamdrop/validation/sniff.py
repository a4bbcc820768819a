"""The start of a file: where its content begins, and what kind of JSON it opens with.

Blanks before the content may be of any length (70 KB of spaces, 9 MB of
newlines): they are skipped a chunk at a time, counting lines, so the
content's format is told from its own first bytes and its positions stay
right.
"""

from __future__ import annotations

from typing import BinaryIO, Final

import orjson

from streamdrop.validation.reader import Start

SNIFF_BYTES: Final = 64 * 1024
BLANKS: Final = b" \t\r\n"
_BOM: Final = b"\xef\xbb\xbf"
_CONTINUES: Final = ("unexpected end of data", "unexpected content after document")


def first_content(file: BinaryIO) -> tuple[Start, bytes]:
    """Where the first byte that is not blank (after a BOM) is, and the bytes from there.

    The head is at most SNIFF_BYTES long, empty when the file holds nothing but blanks.
    """
    offset, line = 0, 1
    chunk = file.read(SNIFF_BYTES)
    if chunk.startswith(_BOM):
        chunk, offset = chunk[3:], 3
    while chunk:
        stripped = chunk.lstrip(BLANKS)
        skipped = len(chunk) - len(stripped)
        line += chunk.count(b"\n", 0, skipped)
        offset += skipped
        if stripped:
            head = stripped + file.read(SNIFF_BYTES - len(stripped))
            return Start(offset, line), head
        chunk = file.read(SNIFF_BYTES)
    return Start(offset, line), b""


def one_object_over_lines(head: bytes) -> bool:
    """True when the file opens with one JSON object spread over several lines.

    That is neither format: not an array, and not JSON Lines (whose every
    line is a whole item). A broken first line of a JSON Lines file is not
    taken for one: what follows it does not continue it.
    """
    first, newline, _ = head.partition(b"\n")
    if not newline or not first.startswith(b"{"):
        return False
    try:
        orjson.loads(first)
    except orjson.JSONDecodeError as exc:
        if exc.msg != _CONTINUES[0]:
            return False
    else:
        return False
    try:
        orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        return exc.msg in _CONTINUES
    return True
