"""Streaming readers: turn a file's bytes into decoded items with their positions.

Two layouts are read, in bounded memory (a few chunks, never the whole file):

- a JSON array of items (stream-cli's format), compact, one item per line or
  pretty-printed;
- JSON Lines (Stream's current chat format and the feeds format).

Array items are found without a Python-level tokenizer: a regex (C speed)
proposes the places where one object ends and the next begins (`}` `,` `{`),
and orjson decodes the bytes between two proposals. A proposal that falls
inside an item (an array of objects, a string) makes orjson stop at the end
of its input, so the piece is grown to the next proposal. Anything else that
orjson refuses is a real syntax error: it is reported with line and column,
the broken item is skipped with a tolerant bracket scan, and reading goes on.

No item may be longer than `max_item_bytes` (an array element from its first
byte to its last, a JSON Lines line): a longer one is reported with its
place and size and skipped without being held, so a 200 MB string costs no
more memory than a small one. The check does not depend on where chunks or
regions happen to end: every item is measured.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import Any, BinaryIO, NamedTuple, Protocol

import msgspec
import orjson

from streamdrop.validation.model import DEFAULT_MAX_ITEM_BYTES, Problem

CHUNK_SIZE = 2 * 1024 * 1024
# Items are decoded a region of about this size at a time (one orjson call).
BATCH_SIZE = 512 * 1024
# After this many proposals that fall inside one item, find its end by scanning
# instead, so that an item with thousands of nested objects stays linear.
MAX_GROW_ATTEMPTS = 16
WHITESPACE = b" \t\r\n"

OnItem = Callable[[int, int, int, Any], None]
Locate = Callable[[int], tuple[int, int]]  # k -> (line, offset) of the k-th item of a batch
OnItems = Callable[[int, list[Any], Locate], None]
# Decodes and checks a region's items, returns how many; raises msgspec.DecodeError,
# before doing anything else, when the region is not well-formed JSON.
OnRegion = Callable[[int, bytes, Locate], int]
# Checks lines[start:] (item numbers from the third argument on) while they are
# ordinary; returns the index of the first line it leaves to the reader.
OnLines = Callable[[list[bytes], int, int, Locate], int]
OnError = Callable[[Problem], None]
OnProgress = Callable[[int], None]


class Readable(Protocol):
    """What a reader reads from: a binary file, or a `Window` on one."""

    def read(self, size: int = -1, /) -> bytes: ...


class Start(NamedTuple):
    """Where a reader begins: the file offset of its first byte, that byte's line, the
    number of the first item it reads. A reader may begin past leading blanks or at
    an item boundary inside a file (the parallel validation's regions)."""

    offset: int = 0
    line: int = 1
    item: int = 0


FILE_START = Start()

# Where an object may end and the next element (or the array) follows.
OBJECT_END = re.compile(rb"\}[ \t\r\n]*(?:,[ \t\r\n]*\{|\])")
# Strings and brackets, to find a broken or unusual element's end.
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_SCALAR_END = re.compile(rb"[ \t\r\n,\]]")

_EOF_MESSAGES = ("unexpected end of data",)
_TRAILING_MESSAGE = "unexpected content after document"


class ParseStop(Exception):
    """The file cannot be read any further (the reason was already reported)."""


class ItemTooLong(Exception):
    """The buffer would have to hold more than one item may take, from `pos` on."""

    def __init__(self, pos: int) -> None:
        super().__init__(pos)
        self.pos = pos


def too_long_message(size: int, limit: int) -> str:
    return (f"validation error: the item is {size:,} bytes, more than the {limit:,} bytes one "
            "item may take (--max-item-bytes); it was skipped unread")


def _byte_position(piece: bytes | memoryview, char_position: int) -> int:
    """orjson reports positions in characters; the reader works in bytes."""
    data = bytes(piece)
    if data.isascii():
        return char_position
    return len(data.decode("utf-8", "replace")[:char_position].encode("utf-8"))


def describe_json_error(piece: bytes | memoryview, exc: orjson.JSONDecodeError) -> tuple[str, int]:
    """Return a message and the byte position inside `piece` where the problem is."""
    if "UTF-8" in exc.msg:
        try:
            bytes(piece).decode("utf-8")
        except UnicodeDecodeError as bad:
            byte = bytes(piece)[bad.start]
            return f"invalid UTF-8 byte 0x{byte:02x}", bad.start
    return exc.msg, _byte_position(piece, exc.pos)


class _Buffer:
    """A sliding window over the file, with absolute offsets and line numbers."""

    __slots__ = ("base", "data", "eof", "file", "limit", "line", "line_pos", "on_progress")

    def __init__(self, file: Readable, on_progress: OnProgress | None,
                 start: Start = FILE_START, limit: int = DEFAULT_MAX_ITEM_BYTES) -> None:
        self.file = file
        self.limit = limit  # bytes the buffer may be asked to keep for one item
        self.data = b""
        self.base = start.offset  # file offset of data[0]
        self.line = start.line  # line number at data[line_pos]
        self.line_pos = 0
        self.eof = False
        self.on_progress = on_progress

    def fill(self, keep_from: int) -> int:
        """Drop bytes before `keep_from`, read another chunk; return the shift applied.

        Raises ItemTooLong, changing nothing, when more than an item may take
        would be kept.
        """
        if self.eof:
            return 0
        if len(self.data) - keep_from > self.limit:
            raise ItemTooLong(keep_from)
        self.line_at(keep_from)
        shift = keep_from
        chunk = self.file.read(CHUNK_SIZE)
        if not chunk:
            self.eof = True
        self.data = self.data[keep_from:] + chunk
        self.base += shift
        self.line_pos -= shift
        if self.on_progress is not None:
            self.on_progress(self.base + len(self.data))
        return shift

    def line_at(self, pos: int) -> int:
        """Line number of data[pos]; positions must be asked for in increasing order."""
        if pos > self.line_pos:
            self.line += self.data.count(b"\n", self.line_pos, pos)
            self.line_pos = pos
        return self.line

    def column_at(self, pos: int) -> int:
        return pos - self.data.rfind(b"\n", 0, pos)


class _RegionLocator:
    """Where the items of a decoded region are, worked out (once) only when asked."""

    __slots__ = ("base", "line", "lines", "region", "starts")

    def __init__(self, region: bytes, base: int, line: int) -> None:
        self.region = region
        self.base = base
        self.line = line
        self.starts: list[int] = []
        self.lines: list[int] = []

    def __call__(self, k: int) -> tuple[int, int]:
        if not self.starts:
            self.starts = _item_starts(self.region)
            self.lines = _lines_at(self.region, self.starts, self.line)
        return self.lines[k], self.base + self.starts[k]


def _lines_at(region: bytes, starts: list[int], first_line: int) -> list[int]:
    """The line of each start, counting each stretch of the region once."""
    lines = []
    line, counted = first_line, 0
    for start in starts:
        line += region.count(b"\n", counted, start)
        counted = start
        lines.append(line)
    return lines


def _item_starts(region: bytes) -> list[int]:
    """Where each element of a well-formed region starts: each raw element, in order."""
    starts = []
    pos = 0
    for raw in _RAW_LIST.decode(b"[" + region + b"]"):
        element = bytes(raw)
        pos = region.index(element, pos)
        starts.append(pos)
        pos += len(element)
    return starts


def _fixed_position(line: int, offset: int) -> Locate:
    return lambda _: (line, offset)


# Splits a well-formed region into its elements, undecoded.
_RAW_LIST = msgspec.json.Decoder(list[msgspec.Raw])


class ArrayReader:
    """Reads a JSON array of items.

    Regions of many items go to `on_region(first_index, region, locate)` as
    the bytes inside `[...]`, known to be well-formed (the consumer decodes
    them its own way); items read one by one go decoded to
    `on_items(first_index, [value], locate)`.
    """

    def __init__(self, file: Readable, on_region: OnRegion, on_items: OnItems,
                 on_error: OnError, on_progress: OnProgress | None = None, *,
                 start: Start = FILE_START,
                 max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES) -> None:
        self.buf = _Buffer(file, on_progress, start, max_item_bytes)
        self.max_item_bytes = max_item_bytes
        self.on_region = on_region
        self.on_items = on_items
        self.on_error = on_error
        self.count = start.item
        self.careful_until = 0  # file offset: decode item by item before it

    def read(self) -> None:
        try:
            pos = self._skip_whitespace(self._open())
            while self.buf.data[pos : pos + 1] != b"]":
                pos = self._batches(pos)
                if self.buf.data[pos : pos + 1] == b"]":
                    break
                pos = self._run_of_objects(pos)
                if self.buf.data[pos : pos + 1] == b"]":
                    break
                pos = self._separator(self._element_within_limit(pos))
            self._close(pos + 1)
        except ParseStop:
            return

    def _batches(self, pos: int) -> int:
        """The fastest path: decode a region of many items with one orjson call.

        A region ends at a proposal past BATCH_SIZE; wrapped in `[...]` it
        decodes only when that proposal is a real item end and nothing inside
        is broken. Otherwise its items are taken one by one.
        """
        buf = self.buf
        while buf.data[pos] == 0x7B and buf.base + pos >= self.careful_until:
            data = buf.data
            match = OBJECT_END.search(data, pos + BATCH_SIZE)
            if match is None:
                if buf.eof or len(data) - pos > min(2 * BATCH_SIZE, self.max_item_bytes):
                    return pos  # a long item ahead: the next items are read one by one
                pos -= buf.fill(pos)
                continue
            end = self._feed_region(pos, match)
            if end is None:
                return pos
            pos = end - 1
            if data[pos] == 0x5D:  # "]"
                return pos
        return pos

    def _feed_region(self, pos: int, match: re.Match[bytes]) -> int | None:
        """Hand data[pos:] up to a proposal to the consumer; None if it is not well-formed.

        A proposal inside an item makes the region end inside it, so it is
        moved to the next one; any other flaw leaves the region to the
        careful path. Returns the end of the proposal's match.
        """
        buf = self.buf
        data = buf.data
        line = buf.line_at(pos)
        for _ in range(MAX_GROW_ATTEMPTS):
            if match.start() + 1 - pos > self.max_item_bytes:
                break  # an item in it may be too long: each is measured on the careful path
            region = data[pos : match.start() + 1]
            try:
                self.count += self.on_region(
                    self.count, region, _RegionLocator(region, buf.base + pos, line))
            except msgspec.DecodeError as exc:
                if "truncated" not in str(exc):
                    break
            else:
                return match.end()
            following = OBJECT_END.search(data, match.start() + 1)
            if following is None:
                break
            match = following
        self.careful_until = buf.base + match.start() + 1
        return None

    def _run_of_objects(self, pos: int) -> int:
        """The fast path: decode `{...},{...}` while every proposal is an item's end.

        Returns where the careful path must take over: at a `]`, or at an
        element this loop does not handle (not an object, a proposal inside an
        item, a syntax error, the end of the buffer).
        """
        buf = self.buf
        data = buf.data
        view = memoryview(data)
        search = OBJECT_END.search
        loads = orjson.loads
        on_items = self.on_items
        while data[pos] == 0x7B and (buf.base + pos < self.careful_until or buf.eof):  # "{"
            match = search(data, pos)
            if match is None:
                return pos
            end = match.start() + 1
            if end - pos > self.max_item_bytes:
                return pos
            try:
                value = loads(view[pos:end])
            except orjson.JSONDecodeError:
                return pos
            if pos > buf.line_pos:
                buf.line += data.count(b"\n", buf.line_pos, pos)
                buf.line_pos = pos
            on_items(self.count, [value], _fixed_position(buf.line, buf.base + pos))
            self.count += 1
            pos = match.end() - 1
            if data[pos] == 0x5D:  # "]"
                return pos
        return pos

    # -- structure -------------------------------------------------------------

    def _error(self, message: str, pos: int, item: int | None = None) -> None:
        buf = self.buf
        line = buf.line_at(pos) if pos >= buf.line_pos else buf.line
        self.on_error(Problem(f"parse error: {message}", item=item, line=line,
                              offset=buf.base + pos))

    def _next_content(self, pos: int) -> int | None:
        """The next byte at or after `pos` that is not whitespace; None at the end of file."""
        buf = self.buf
        while True:
            data = buf.data
            while pos < len(data) and data[pos] in WHITESPACE:
                pos += 1
            if pos < len(data):
                return pos
            if buf.eof:
                return None
            pos -= buf.fill(pos)

    def _skip_whitespace(self, pos: int) -> int:
        found = self._next_content(pos)
        if found is None:
            self._error("unexpected end of file: the array is not closed with ']'",
                        len(self.buf.data))
            raise ParseStop
        return found

    def _open(self) -> int:
        self.buf.fill(0)
        bom = 3 if self.buf.data.startswith(b"\xef\xbb\xbf") else 0
        found = self._next_content(bom)
        if found is None:
            self._error("the file is empty", len(self.buf.data))
            raise ParseStop
        pos = found
        data = self.buf.data
        if data[pos : pos + 1] != b"[":
            self._error(f"invalid format: expected a JSON array starting with '[', "
                        f"found {data[pos : pos + 1]!r}", pos)
            raise ParseStop
        return pos + 1

    def _separator(self, pos: int) -> int:
        pos = self._skip_whitespace(pos)
        byte = self.buf.data[pos : pos + 1]
        if byte == b",":
            after = self._skip_whitespace(pos + 1)
            if self.buf.data[after : after + 1] == b"]":
                self._error("trailing comma before ']'", pos)
            return after
        if byte == b"]":
            return pos
        self._error(f"expected ',' or ']' after item {self.count - 1}, found {byte!r}", pos)
        return self._resync(pos)

    def _close(self, pos: int) -> None:
        found = self._next_content(pos)
        if found is not None:
            self._error("unexpected content after the closing ']'", found)

    def _resync(self, pos: int) -> int:
        """Skip the unexpected value at `pos` so that reading can go on after it."""
        try:
            _, end = self._value_end(pos, tolerant=True)
        except ItemTooLong as long:
            end = self._skip_value(long.pos)
        return self._skip_whitespace(end)

    # -- elements --------------------------------------------------------------

    def _element_within_limit(self, pos: int) -> int:
        """`_element`, but an element too long to hold is measured and skipped instead."""
        try:
            return self._element(pos)
        except ItemTooLong as long:
            outcome = self._decode_if_ends(long.pos)
            if outcome is not None:
                return outcome
            start = self.buf.base + long.pos
            line = self.buf.line_at(long.pos)
            end = self._skip_value(long.pos)
            self.on_error(Problem(too_long_message(self.buf.base + end - start,
                                                   self.max_item_bytes),
                                  item=self.count - 1, line=line, offset=start))
            return end

    def _decode_if_ends(self, pos: int) -> int | None:
        """An object that ends inside the buffer after all (no proposal marked its end)."""
        data = self.buf.data
        if data[pos : pos + 1] != b"{":
            return None
        end = scan_value(data, pos, False, 0, False)
        if not isinstance(end, int):
            return None
        try:
            return self._decode(pos, end, self.count - 1)
        except ItemTooLong:
            return None

    def _skip_value(self, pos: int) -> int:
        """The end of the value at `pos`, found without keeping the bytes read on the way.

        Strings and nesting are followed across chunks (each dropped once
        scanned); a truncated value stops reading, as elsewhere.
        """
        buf = self.buf
        scalar = buf.data[pos : pos + 1] not in (b"{", b"[", b'"')
        depth, in_string, scan = 0, False, pos
        while True:
            data = buf.data
            end = scan_value(data, scan, scalar, depth, in_string)
            if isinstance(end, int):
                return end
            depth, in_string, skip_next = end
            if buf.eof:
                self._error("unexpected end of file inside an item (is the file truncated?)",
                            len(data))
                raise ParseStop
            scan = len(data) - buf.fill(len(data)) + (1 if skip_next else 0)

    def _element(self, pos: int) -> int:
        """Decode the element starting at `pos`; return the position after it."""
        index = self.count
        self.count += 1
        if self.buf.data[pos : pos + 1] != b"{":
            return self._odd_element(pos, index)
        search_from = pos
        attempts = 0
        while True:
            data = self.buf.data
            match = OBJECT_END.search(data, search_from)
            if match is None:
                if self.buf.eof:
                    return self._decode_at_eof(pos, index)
                # Nothing to find before the last few KiB (a match may be cut there).
                search_from = max(search_from, len(data) - 4096, pos)
                shift = self.buf.fill(pos)
                pos -= shift
                search_from -= shift
                continue
            end = match.start() + 1
            outcome = self._decode(pos, end, index)
            if outcome is not None:
                return outcome
            attempts += 1
            if attempts >= MAX_GROW_ATTEMPTS:
                return self._decode_scanned(pos, index)
            search_from = end

    def _decode(self, start: int, end: int, index: int) -> int | None:
        """Try data[start:end] as one item; None means the piece is too short."""
        data = self.buf.data
        piece = memoryview(data)[start:end]
        try:
            value = orjson.loads(piece)
        except orjson.JSONDecodeError as exc:
            if exc.msg in _EOF_MESSAGES:
                return None
            if exc.msg == _TRAILING_MESSAGE:
                return self._decode_exact(start, start + _byte_position(piece, exc.pos), index)
            message, where = describe_json_error(piece, exc)
            self._bad_item(start, start + where, index, message)
            return self._value_end(start, tolerant=True)[1]
        self._emit(start, end, index, value)
        return end

    def _decode_exact(self, start: int, end: int, index: int) -> int:
        data = self.buf.data
        while end > start and data[end - 1] in WHITESPACE:
            end -= 1
        value = orjson.loads(memoryview(data)[start:end])
        self._emit(start, end, index, value)
        return end

    def _decode_scanned(self, start: int, index: int) -> int:
        start, end = self._value_end(start, tolerant=False)
        outcome = self._decode(start, end, index)
        if outcome is None:
            self._bad_item(start, end, index, "unexpected end of data")
            raise ParseStop
        return outcome

    def _decode_at_eof(self, start: int, index: int) -> int:
        data = self.buf.data
        piece = memoryview(data)[start:]
        try:
            orjson.loads(piece)
        except orjson.JSONDecodeError as exc:
            if exc.msg == _TRAILING_MESSAGE:
                return self._decode_exact(start, start + _byte_position(piece, exc.pos), index)
            if exc.msg in _EOF_MESSAGES:
                self._bad_item(start, len(data), index,
                               "unexpected end of file inside this item (is the file truncated?)")
                raise ParseStop from None
            message, where = describe_json_error(piece, exc)
            self._bad_item(start, start + where, index, message)
            raise ParseStop from None
        # A whole object up to the end of the file: the array is not closed.
        self._emit(start, len(data), index, orjson.loads(piece))
        return len(data)

    def _odd_element(self, pos: int, index: int) -> int:
        """An element that is not an object: decode it exactly, the validator judges it."""
        pos, end = self._value_end(pos, tolerant=True)
        data = self.buf.data
        try:
            value = orjson.loads(memoryview(data)[pos:end])
        except orjson.JSONDecodeError as exc:
            message, where = describe_json_error(memoryview(data)[pos:end], exc)
            self._bad_item(pos, pos + where, index, message)
            return end
        self._emit(pos, end, index, value)
        return end

    def _emit(self, start: int, end: int, index: int, value: Any) -> None:
        buf = self.buf
        where = _fixed_position(buf.line_at(start), buf.base + start)
        if end - start > self.max_item_bytes:
            line, offset = where(0)
            self.on_error(Problem(too_long_message(end - start, self.max_item_bytes),
                                  item=index, line=line, offset=offset))
            return
        self.on_items(index, [value], where)

    def _bad_item(self, start: int, where: int, index: int, message: str) -> None:
        buf = self.buf
        line = buf.line_at(start)
        error_line = line + buf.data.count(b"\n", start, where)
        column = buf.column_at(where)
        self.on_error(Problem(
            f"parse error: {message} at line {error_line} column {column}",
            item=index, line=line, offset=buf.base + start,
        ))

    def _value_end(self, pos: int, *, tolerant: bool) -> tuple[int, int]:
        """Find the end of the JSON value at `pos` by counting brackets outside strings.

        Returns `(start, end)` in the buffer's coordinates after any refill.
        """
        buf = self.buf
        if buf.data[pos : pos + 1] not in (b"{", b"[", b'"'):
            while True:
                match = _SCALAR_END.search(buf.data, pos)
                if match is not None:
                    return pos, match.start()
                if buf.eof:
                    return pos, len(buf.data)
                pos -= buf.fill(pos)
        depth = 0
        scan_from = pos
        while True:
            data = buf.data
            for token in _TOKEN.finditer(data, scan_from):
                if token.end() == len(data) and not buf.eof and data[token.start()] == 0x22:
                    break  # a string cut by the end of the buffer: read more first
                kind = data[token.start()]
                if kind in b"[{":
                    depth += 1
                elif kind in b"]}":
                    depth -= 1
                scan_from = token.end()
                if depth <= 0:
                    return pos, scan_from
            else:
                if buf.eof:
                    if not tolerant:
                        return pos, len(data)
                    self._error("unexpected end of file inside an item (is the file truncated?)",
                                pos)
                    raise ParseStop
            shift = buf.fill(pos)
            pos -= shift
            scan_from -= shift


_STRUCTURE = re.compile(rb'["\[\]{}]')
_STRING_END = re.compile(rb'["\\]')

ScanState = tuple[int, bool, bool]  # depth, inside a string, the next byte is escaped


def scan_value(data: bytes, pos: int, scalar: bool, depth: int,
          in_string: bool) -> int | ScanState:
    """Follow a value through `data` from `pos`: its end, or the state at the end of data."""
    if scalar:
        match = _SCALAR_END.search(data, pos)
        return match.start() if match else (0, False, False)
    end = len(data)
    while pos < end:
        if in_string:
            match = _STRING_END.search(data, pos)
            if match is None:
                return depth, True, False
            pos = match.end()
            if data[match.start()] == 0x5C:  # a backslash: the next byte is escaped
                if pos >= end:
                    return depth, True, True
                pos += 1
                continue
            in_string = False
            if depth == 0:
                return pos  # the value was a string
            continue
        match = _STRUCTURE.search(data, pos)
        if match is None:
            return depth, False, False
        pos = match.end()
        byte = data[match.start()]
        if byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
        else:
            depth -= 1
            if depth <= 0:
                return pos
    return depth, in_string, False


def _envelope_keys(value: Any) -> int:
    """The keys of a line's object and of its "data" object."""
    if type(value) is not dict:
        return 0
    data = value.get("data")
    return len(value) + (len(data) if type(data) is dict else 0)


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Repeated(key)
        seen[key] = value
    return seen


def repeated_key(raw: bytes) -> str | None:
    """A key that appears twice in one object of `raw` (a JSON value), or None."""
    try:
        json.loads(raw, object_pairs_hook=_no_repeats)
    except _Repeated as repeated:
        return repeated.key
    except (ValueError, RecursionError):  # json reads a little differently: no verdict
        return None
    return None


class _LinesLocator:
    """(line, offset) of each of consecutive lines, worked out (once) only when asked."""

    __slots__ = ("line", "lines", "offset", "starts")

    def __init__(self, lines: list[bytes], line: int, offset: int) -> None:
        self.lines = lines
        self.line = line
        self.offset = offset
        self.starts: list[int] = []

    def __call__(self, k: int) -> tuple[int, int]:
        if not self.starts:
            self.starts = list(itertools.accumulate(
                (len(raw) + 1 for raw in self.lines), initial=self.offset))
        return self.line + k, self.starts[k]


class LinesReader:
    """Reads JSON Lines: one value per non-blank line; a bad line is one error.

    A consumer with a fast path for ordinary lines gives it as `on_lines`
    (see `OnLines`); the lines it does not take are read here one by one.
    """

    def __init__(self, file: Readable, on_item: OnItem, on_error: OnError,
                 on_progress: OnProgress | None = None, *, start: Start = FILE_START,
                 whole_file: bool = True, max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES,
                 on_lines: OnLines | None = None) -> None:
        self.file = file
        self.on_lines = on_lines
        self.max_item_bytes = max_item_bytes
        self.on_item = on_item
        self.on_error = on_error
        self.on_progress = on_progress
        self.start = start
        self.count = start.item
        # A whole file with nothing but blanks is "empty"; a region of one may be blank.
        self.whole_file = whole_file

    def read(self) -> None:
        offset = self.start.offset
        line = self.start.line
        rest = b""
        first = True
        while True:
            chunk = self.file.read(CHUNK_SIZE)
            data = rest + chunk
            if first:
                first = False
                if data.startswith(b"\xef\xbb\xbf") and offset == 0:
                    data = data[3:]
                    offset = 3
            if not chunk:
                if data:
                    self._lines(data.split(b"\n"), line, offset)
                if self.whole_file and self.count == self.start.item:
                    self.on_error(Problem("parse error: the file is empty", line=1, offset=0))
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) > self.max_item_bytes:
                rest, length, ended = self._skip_line(len(data))
                self._too_long(length, line, offset)
                line, offset = line + 1, offset + length + 1
                if ended:
                    return
                continue
            if cut == 0:
                rest = data  # one line longer than a chunk: keep reading
                continue
            line, offset = self._lines(data[:cut - 1].split(b"\n"), line, offset)
            rest = data[cut:]
            if self.on_progress is not None:
                self.on_progress(offset)

    def _skip_line(self, length: int) -> tuple[bytes, int, bool]:
        """Read on to the end of a line too long to keep: what follows, its length, EOF."""
        while True:
            chunk = self.file.read(CHUNK_SIZE)
            if not chunk:
                return b"", length, True
            end = chunk.find(b"\n")
            if end < 0:
                length += len(chunk)
                continue
            return chunk[end + 1:], length + end, False

    def _too_long(self, length: int, line: int, offset: int) -> None:
        index = self.count
        self.count += 1
        self.on_error(Problem(too_long_message(length, self.max_item_bytes), item=index,
                              line=line, offset=offset))

    def _lines(self, lines: list[bytes], line: int, offset: int) -> tuple[int, int]:
        """Read consecutive lines (starting at `line`, `offset`); return where the next starts.

        The consumer's fast path (`on_lines`) takes the ordinary ones; each it
        stops at is taken here, the precise way.
        """
        on_lines = self.on_lines
        if on_lines is None or max(map(len, lines)) > self.max_item_bytes:
            for raw in lines:
                self._line(raw, line, offset)
                line, offset = line + 1, offset + len(raw) + 1
            return line, offset
        locate = _LinesLocator(lines, line, offset)
        n = 0
        while n < len(lines):
            stop = on_lines(lines, n, self.count, locate)
            self.count += stop - n
            if stop < len(lines):
                self._line(lines[stop], *locate(stop))
            n = stop + 1
        return line + len(lines), offset + sum(map(len, lines)) + len(lines)

    def _line(self, raw: bytes, line: int, offset: int) -> None:
        if len(raw) > self.max_item_bytes:
            self._too_long(len(raw), line, offset)
            return
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if not raw.strip():
                return  # blank lines separate nothing and hold nothing
            index = self.count
            self.count += 1
            message, where = describe_json_error(raw, exc)
            self.on_error(Problem(f"parse error: {message} at line {line} column {where + 1}",
                                  item=index, line=line, offset=offset))
            return
        index = self.count
        self.count += 1
        # A key twice in one object leaves fewer `":` in the value than in its bytes
        # (counted cheaply first for the usual `{"type", "data": {...}}` line).
        colons = raw.count(b'":')
        if colons > _envelope_keys(value) and colons > orjson.dumps(value).count(b'":'):
            repeated = repeated_key(raw)
            if repeated is not None:
                self.on_error(Problem(
                    f"parse error: the key {orjson.dumps(repeated).decode()} appears twice in one "
                    f"object at line {line}; which value Stream keeps is not known", item=index,
                    line=line, offset=offset))
        self.on_item(index, line, offset, value)


def read_items(consumer: Any, file: Readable, *, array: bool, start: Start = FILE_START,
               max_item_bytes: int = DEFAULT_MAX_ITEM_BYTES,
               on_progress: OnProgress | None = None, whole_file: bool = True) -> int:
    """Read the items of `file` into a consumer (`feed_region`, `feed_many` for an array,
    `feed` and, if it has one, the fast path `feed_lines` for JSON Lines, and
    `parse_error`); return the number of the item after the last."""
    if array:
        array_reader = ArrayReader(file, consumer.feed_region, consumer.feed_many,
                                   consumer.parse_error, on_progress, start=start,
                                   max_item_bytes=max_item_bytes)
        array_reader.read()
        return array_reader.count
    lines_reader = LinesReader(file, consumer.feed, consumer.parse_error, on_progress,
                               start=start, whole_file=whole_file,
                               max_item_bytes=max_item_bytes,
                               on_lines=getattr(consumer, "feed_lines", None))
    lines_reader.read()
    return lines_reader.count


class Window:
    """Bytes [begin, end) of a file, read in order, after `prefix` and before `suffix`.

    A reader given a window reads one part of a file as if it were a whole
    file (the array's brackets supplied); newlines of the file's bytes are counted.
    """

    def __init__(self, file: BinaryIO, begin: int, end: int, *, prefix: bytes = b"",
                 suffix: bytes = b"") -> None:
        self.file = file
        self.pos = begin
        self.end = end
        self.pending = prefix
        self.suffix = suffix
        self.newlines = 0
        file.seek(begin)

    def read(self, size: int = -1) -> bytes:
        out = self.pending
        self.pending = b""
        want = (self.end - self.pos) if size < 0 else min(size, self.end - self.pos)
        if want > 0:
            data = self.file.read(want)
            self.pos += len(data)
            self.newlines += data.count(b"\n")
            if len(data) < want:  # the file is shorter than it was: end here
                self.end = self.pos
            out += data
        if self.pos >= self.end and self.suffix:
            out, self.suffix = out + self.suffix, b""
        return out
