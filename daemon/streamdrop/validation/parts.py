"""Split a chat file on disk into JSON Lines parts (or convert it whole), with a manifest.

Two reads of the source. The first feeds each item's kind, size and ties
to the planner (`split.py`), which assigns every item to a part. The second
writes each item's original bytes, unchanged, to its part: a JSON Lines line
as it was, an array item as `{"type": ..., "data": <its object's bytes>}`.
Each part is first written as one temporary segment per kind (a part must
list the kinds in Stream's order; an array file need not), then the segments
are joined into `<stem>.part-NNNN.jsonl` and hashed, and the manifest
`<stem>.parts.json` is written last, atomically: a manifest means the parts
are complete. The source's SHA-256 is taken on a second thread meanwhile.

The file is expected to be valid (the daemon validates it whole first; run
`streamdrop validate` before `split`): anything that is not well-formed chat
is refused with its place, never split. An array item's bytes lose only their
line breaks (whitespace outside strings; a JSON Lines line cannot hold one).
"""

from __future__ import annotations

import hashlib
import os
import threading
from array import array
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Final

import msgspec
import orjson

from streamdrop.validation.chat_envelope import ARRAY_TYPE_NAMES, ITEM_ORDER, JSONL_TYPE_NAMES
from streamdrop.validation.model import Format, Problem
from streamdrop.validation.parallel import usable_cores
from streamdrop.validation.reader import ArrayReader, Locate
from streamdrop.validation.run import SNIFF_BYTES, detect_format
from streamdrop.validation.split import (
    DEFAULT_MAX_PART_BYTES,
    KIND_CODES,
    MAX_PART_BYTES,
    PartPlanner,
    SplitRefused,
)

__all__ = ["DEFAULT_MAX_PART_BYTES", "Manifest", "SplitRefused", "convert_path", "split_path"]

READ_SIZE: Final = 8 * 1024 * 1024
SEGMENT_BUFFER: Final = 1024 * 1024
# Segments inside a part: the kinds in Stream's order, replies that came
# before their thread's parent right after the messages.
_LATE: Final = len(ITEM_ORDER)
SEGMENT_ORDER: Final = (*range(KIND_CODES["message"] + 1), _LATE,
                        *range(KIND_CODES["message"] + 1, len(ITEM_ORDER)))
_MESSAGE: Final = KIND_CODES["message"]


class _Ties(msgspec.Struct, gc=False):
    """The fields of an item that decide where it may go; everything else is skipped."""

    id: str | None = None
    type: str | None = None
    channel_type: str | None = None
    channel_id: str | None = None
    member_ids: list[str] | None = None
    channel_member_ids: list[str] | None = None
    parent_id: str | None = None
    # Any: on another kind of item these names may be custom data of any type.
    channel_mutes: Any = None
    user_mutes: Any = None
    created_by: Any = None


class _Line(msgspec.Struct, gc=False):
    type: str
    data: _Ties


class _Element(msgspec.Struct, gc=False):
    type: str
    item: msgspec.Raw


_LINE: Final = msgspec.json.Decoder(_Line)
_TIES: Final = msgspec.json.Decoder(_Ties)
_ELEMENT: Final = msgspec.json.Decoder(_Element)
_ELEMENTS: Final = msgspec.json.Decoder(list[_Element])
# An array item's kind -> the start of its JSON Lines line; the bytes its line adds.
_PREFIXES: Final = {kind: b'{"type":"' + kind.encode() + b'","data":'
                    for kind in ARRAY_TYPE_NAMES}
_WRAPPING: Final = {kind: len(prefix) + len(b"}\n") for kind, prefix in _PREFIXES.items()}


@dataclass(slots=True)
class PartFile:
    name: str
    sha256: str
    bytes: int
    items: dict[str, int]


@dataclass(slots=True)
class Manifest:
    """What `<stem>.parts.json` says: the source and its parts, in import order."""

    source: str
    source_sha256: str
    source_format: Format
    source_bytes: int
    max_bytes: int
    parts: list[PartFile] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": {"name": self.source, "sha256": self.source_sha256,
                       "format": self.source_format, "bytes": self.source_bytes},
            "max_bytes": self.max_bytes,
            "parts": [{"name": p.name, "sha256": p.sha256, "bytes": p.bytes,
                       "items": p.items} for p in self.parts],
        }


def manifest_name(source: Path) -> str:
    return f"{source.stem}.parts.json"


def part_name(source: Path, number: int) -> str:
    return f"{source.stem}.part-{number:04d}.jsonl"


# -- reading: each item's kind, ties and bytes ----------------------------------------

# (item number, kind, ties, the JSON Lines line to write or b"" when planning an array's
# items, the line's size)
OnItem = Callable[[int, str, _Ties | None, bytes, int], None]
# (the first item's number, consecutive items' lines): writing, a region at a time
OnLines = Callable[[int, list[bytes]], None]


class _Lines:
    """The items of a chat JSON Lines file, each with its line's bytes."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.where = (1, 0)

    def lines(self) -> Iterator[tuple[int, int, bytes]]:
        """(line number, offset, bytes without the newline) of each non-blank line."""
        rest, line, offset = b"", 1, 0
        while chunk := self.file.read(READ_SIZE):
            data = rest + chunk
            if offset == 0 and data.startswith(b"\xef\xbb\xbf"):
                data, offset = data[3:], 3
            pieces = data.split(b"\n")
            rest = pieces.pop()
            for raw in pieces:
                if raw.strip():
                    yield line, offset, raw
                line += 1
                offset += len(raw) + 1
        if rest.strip():
            yield line, offset, rest

    def read(self, on_item: OnItem, kinds: array[int] | None = None,
             on_lines: OnLines | None = None) -> None:
        """Decode each line's kind and ties, or take the kinds known (`kinds`) and no ties
        (`on_lines` is the array's; a line is already its own bytes)."""
        item = 0
        for line, offset, raw in self.lines():
            self.where = (line, offset)
            if kinds is not None:
                on_item(item, ITEM_ORDER[kinds[item]], None, raw + b"\n", 0)
                item += 1
                continue
            try:
                decoded = _LINE.decode(raw)
            except msgspec.DecodeError as exc:
                raise _refusal(f"line {line} (byte {offset}) is not a chat item: {exc}",
                               item) from None
            kind = JSONL_TYPE_NAMES.get(decoded.type)
            if kind is None:
                raise _refusal(f"line {line} (byte {offset}) has unknown type "
                               f"{decoded.type!r}", item)
            on_item(item, kind, decoded.data, raw, len(raw) + 1)
            item += 1

    def location(self) -> tuple[int, int]:
        """(line, offset) of the item being handed over."""
        return self.where


class _Array:
    """The items of a chat JSON array, each converted to its JSON Lines line.

    Goes through the validator's reader: regions of items arrive as bytes;
    items read one by one arrive decoded, with where they start, so their
    bytes are read back from the file up to where the next item starts.
    """

    def __init__(self, file: BinaryIO, size: int) -> None:
        self.file = file
        self.size = size
        self.with_ties = True
        self.on_item: OnItem = _ignore
        self.pending: tuple[int, int] | None = None  # (item number, offset) read one by one
        self.locate: Locate = lambda _: (1, 0)
        self.where_pending = (1, 0)
        self.pretty = True  # whether items may hold line breaks
        self.current = 0  # position in what `locate` covers of the item being handed over
        self.on_lines: OnLines | None = None

    def read(self, on_item: OnItem, kinds: array[int] | None = None,
             on_lines: OnLines | None = None) -> None:
        """Hand over each item, with its ties unless the kinds are known (`kinds`);
        `on_lines` takes a region's lines at once when writing (see `_region`)."""
        self.on_item = on_item
        self.on_lines = on_lines
        self.with_ties = kinds is None
        ArrayReader(self.file, self._region, self._items, self._error).read()
        self._flush(self.size)

    def _region(self, first: int, region: bytes, locate: Locate) -> int:
        elements = _ELEMENTS.decode(b"[" + region + b"]")  # raises before doing anything
        if self.pending is not None:
            self._flush(locate(0)[1])
        self.locate = locate
        # Separators hold len - 1 line breaks: any more are inside items (pretty-printed).
        # (`in` looks for a byte with memchr: far quicker than counting it.)
        self.pretty = b"\r" in region or region.count(b"\n") >= len(elements)
        if self.on_lines is not None:
            # Writing, the planning pass having checked every item: the lines at once
            # (one call per item was a sixth of the split's time). A line cannot hold a
            # line break: those of a pretty-printed item (whitespace) are dropped.
            self.on_lines(first, [_PREFIXES[e.type] + bytes(e.item).translate(None, b"\r\n")
                                  + b"}\n" for e in elements] if self.pretty else
                          [_PREFIXES[e.type] + bytes(e.item) + b"}\n" for e in elements])
            return len(elements)
        if self.with_ties and not self.pretty:
            self._plan_region(first, elements)
            return len(elements)
        for k, element in enumerate(elements):
            self.current = k
            self._emit(first + k, element)
        return len(elements)

    def _plan_region(self, first: int, elements: list[_Element]) -> None:
        """`_emit` of planning, inlined for a region without line breaks in its items
        (the per-item call was a tenth of the split's time)."""
        on_item, wrapping, ties_of = self.on_item, _WRAPPING, _TIES.decode
        for k, element in enumerate(elements):
            self.current = k
            added = wrapping.get(element.type)
            raw = element.item
            try:
                ties = ties_of(raw)  # refuses anything but an object
            except msgspec.ValidationError:
                ties = None
            if added is None or ties is None:
                self._emit(first + k, element)  # refuses it, saying why
                continue
            on_item(first + k, element.type, ties, b"", added + len(raw))

    def location(self) -> tuple[int, int]:
        """(line, offset) of the item being handed over."""
        return self.locate(self.current)

    def _items(self, first: int, values: list[Any], locate: Locate) -> None:
        for k in range(len(values)):
            offset = locate(k)[1]
            self._flush(offset)
            self.pending = (first + k, offset)
            self.where_pending = locate(k)

    def _flush(self, end: int) -> None:
        if self.pending is None:
            return
        number, start = self.pending
        self.pending = None
        self.locate, self.current = _fixed(self.where_pending), 0
        self.pretty = True
        raw = os.pread(self.file.fileno(), end - start, start).rstrip(b" \t\r\n,]")
        try:
            element = _ELEMENT.decode(raw)
        except msgspec.DecodeError as exc:
            raise _refusal(f"item {number} (byte {start}) is not a chat item: {exc}",
                           number) from None
        self._emit(number, element)

    def _emit(self, number: int, element: _Element) -> None:
        """Planning: the item's ties and its line's size; writing: its line."""
        prefix = _PREFIXES.get(element.type)
        if prefix is None:
            raise _refusal(f"item {number} has unknown type {element.type!r}", number)
        raw = element.item
        if memoryview(raw)[0] != 0x7B:  # "{"
            raise _refusal(f"item {number} ({element.type}) has no object in \"item\"", number)
        if self.with_ties:
            size = len(prefix) + len(raw) + 2
            if self.pretty:
                body = memoryview(raw).tobytes()
                size -= body.count(b"\n") + body.count(b"\r")
            try:
                ties = _TIES.decode(raw)
            except msgspec.ValidationError as exc:
                raise _refusal(f"item {number} ({element.type}) is not a chat item: {exc}",
                               number) from None
            self.on_item(number, element.type, ties, b"", size)
            return
        body = bytes(raw)
        if self.pretty and (b"\n" in body or b"\r" in body):
            body = body.translate(None, b"\r\n")  # whitespace: a line cannot hold it
        self.on_item(number, element.type, None, prefix + body + b"}\n", 0)

    def _error(self, problem: Problem) -> None:
        raise _refusal(f"{problem.message} (line {problem.line}, byte {problem.offset})",
                       problem.item)


def _fixed(where: tuple[int, int]) -> Locate:
    return lambda _: where


def _ignore(*_: Any) -> None:
    return None


def _refusal(message: str, item: int | None) -> SplitRefused:
    return SplitRefused(f"not a well-formed chat file: {message}; run `streamdrop validate`",
                        item)


def _source(file: BinaryIO, size: int, fmt: Format) -> _Lines | _Array:
    file.seek(0)
    return _Array(file, size) if fmt == "chat" else _Lines(file)


# -- the two passes -----------------------------------------------------------------


def _plan(file: BinaryIO, size: int, fmt: Format, planner: PartPlanner) -> None:
    source = _source(file, size, fmt)

    def on_item(_: int, kind: str, ties: _Ties | None, __: bytes, size: int) -> None:
        assert ties is not None
        try:
            _feed(planner, kind, ties, size)
        except SplitRefused as refusal:
            raise _located(refusal, source.location()) from None

    source.read(on_item)


def _located(refusal: SplitRefused, where: tuple[int, int]) -> SplitRefused:
    line, offset = where
    return SplitRefused(f"{refusal} (line {line}, byte {offset})", refusal.item)


class _Found(Exception):
    def __init__(self, where: tuple[int, int]) -> None:
        self.where = where


def _location_of(file: BinaryIO, size: int, fmt: Format, wanted: int) -> tuple[int, int]:
    """Where item `wanted` is: read again, for a refusal found after reading."""
    source = _source(file, size, fmt)

    def on_item(number: int, *_: Any) -> None:
        if number == wanted:
            raise _Found(source.location())

    try:
        source.read(on_item)
    except _Found as found:
        return found.where
    return (0, 0)


def _feed(planner: PartPlanner, kind: str, ties: _Ties, length: int) -> None:
        if kind == "message":  # most items: asked first
            planner.message(length, ties.id or "", ties.parent_id or "")
        elif kind == "channel":
            planner.channel(length, ties.type or "", ties.id or "", ties.member_ids or [],
                            _text(ties.created_by))
        elif kind == "member":
            planner.member(length, ties.channel_type or "", ties.channel_id or "",
                           ties.channel_member_ids or [])
        elif kind == "user":
            planner.user(length, ties.id or "", _texts(ties.channel_mutes),
                         _texts(ties.user_mutes))
        else:
            planner.add(kind, length)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _texts(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


class _Segments:
    """One temporary file per (part, segment), opened when first written."""

    def __init__(self, folder: Path, stem: str) -> None:
        self.folder = folder
        self.stem = stem
        self.open: dict[tuple[int, int], IO[bytes]] = {}

    def path(self, part: int, segment: int) -> Path:
        return self.folder / f".{self.stem}.part-{part + 1:04d}.{segment}.tmp"

    def write(self, part: int, segment: int, data: bytes) -> None:
        out = self.open.get((part, segment))
        if out is None:
            out = self.open[(part, segment)] = self.path(part, segment).open(
                "wb", buffering=SEGMENT_BUFFER)
        out.write(data)

    def close(self) -> None:
        for out in self.open.values():
            out.close()

    def join(self, part: int, target: Path) -> tuple[str, int]:
        """Concatenate a part's segments into `target`; return its sha256 and size.

        Not fsynced: whoever imports a part checks it against the manifest's hash.
        """
        pieces = [self.path(part, segment) for segment in SEGMENT_ORDER
                  if (part, segment) in self.open]
        if len(pieces) == 1:  # most parts hold one kind: no copy
            pieces[0].replace(target)
            with target.open("rb") as done:
                return hashlib.file_digest(done, "sha256").hexdigest(), target.stat().st_size
        digest = hashlib.sha256()
        written = 0
        with target.open("wb") as out:
            for path in pieces:
                with path.open("rb") as piece:
                    while block := piece.read(READ_SIZE):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
                path.unlink()
        return digest.hexdigest(), written

    def discard(self) -> None:
        self.close()
        for part, segment in self.open:
            self.path(part, segment).unlink(missing_ok=True)


def _write(file: BinaryIO, size: int, fmt: Format, planner: PartPlanner,
           segments: _Segments) -> None:
    part_of = planner.part_of
    kinds = planner.kinds
    forward = planner.forward_parents
    seen: set[str] = set()

    def on_item(number: int, _: str, ties: _Ties | None, line: bytes, __: int) -> None:
        code = kinds[number]
        segment = code
        if forward and code == _MESSAGE:
            ties = ties or _ties_of_line(line)
            if ties.id in forward:
                seen.add(ties.id)
            elif ties.parent_id in forward and ties.parent_id not in seen:
                segment = _LATE  # written after its parent, which comes later in the file
        segments.write(part_of[number], segment, line)

    def on_lines(first: int, lines: list[bytes]) -> None:
        end = first + len(lines)
        part, code = part_of[first], kinds[first]
        if (part_of[first:end].count(part) == len(lines) and kinds[first:end].count(code)
                == len(lines) and not (forward and code == _MESSAGE)):
            segments.write(part, code, b"".join(lines))  # one kind, one part: most regions
            return
        for k, line in enumerate(lines):
            on_item(first + k, "", None, line, 0)

    _source(file, size, fmt).read(on_item, kinds, on_lines)


def _ties_of_line(line: bytes) -> _Ties:
    """A converted or original line's ties (its `data`)."""
    return _LINE.decode(line).data


# -- the commands' entry points --------------------------------------------------------


def _format_of(file: BinaryIO) -> Format:
    head = file.read(SNIFF_BYTES)
    file.seek(0)
    fmt = detect_format(head)
    if fmt not in ("chat", "chat-jsonl"):
        raise SplitRefused("only chat files (a JSON array or JSON Lines) can be split"
                           if fmt == "feeds" else "not a chat import file")
    return fmt


def _hash_in_background(path: Path) -> tuple[threading.Thread, list[str]]:
    """The SHA-256 of the file at `path`, read on a thread (opened here: errors raise here)."""
    result: list[str] = []
    own = path.open("rb")

    def run() -> None:
        with own:
            result.append(hashlib.file_digest(own, "sha256").hexdigest())

    thread = threading.Thread(target=run, name="sha256", daemon=True)
    thread.start()
    return thread, result


def _split(source: Path, out_dir: Path, max_bytes: int,
           name_part: Callable[[int], Path], *, single: bool = False) -> Manifest:
    planner = PartPlanner(max_bytes)
    with source.open("rb") as file:
        out_dir.mkdir(parents=True, exist_ok=True)
        hasher, digest = _hash_in_background(source)
        size = os.fstat(file.fileno()).st_size
        fmt = _format_of(file)
        _plan(file, size, fmt, planner)
        try:
            plans = planner.plan()
        except SplitRefused as refusal:
            if refusal.item is None:
                raise
            raise _located(refusal, _location_of(file, size, fmt, refusal.item)) from None
        if single and len(plans) > 1:
            raise SplitRefused(f"the file is too big for one JSON Lines file of at most "
                               f"{max_bytes:,} bytes: split it instead")
        segments = _Segments(out_dir, source.stem)
        try:
            _write(file, size, fmt, planner, segments)
            segments.close()
            targets = [name_part(plan.number) for plan in plans]
            # Joined and hashed on threads: hashlib and file I/O let go of the GIL, so the
            # parts are hashed on all cores (one after the other, 12% of the split).
            with ThreadPoolExecutor(max_workers=max(1, min(len(plans), usable_cores()))) as pool:
                joined = list(pool.map(segments.join, range(len(plans)), targets))
            parts = [PartFile(target.name, sha, written, _ordered(plan.items))
                     for target, (sha, written), plan in zip(targets, joined, plans,
                                                             strict=True)]
        finally:
            segments.discard()
            hasher.join()
    if not digest:
        raise OSError(f"could not read {source} to hash it")
    return Manifest(source.name, digest[0], fmt, size, max_bytes, parts)


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    return {kind: counts[kind] for kind in ITEM_ORDER if counts.get(kind)}


def split_path(source: Path, out_dir: Path,
               max_bytes: int = DEFAULT_MAX_PART_BYTES) -> Manifest:
    """Split `source` into parts of at most `max_bytes` in `out_dir`; write the manifest.

    Raises SplitRefused (with the item at fault) and OSError.
    """
    manifest = _split(source, out_dir, max_bytes, lambda n: out_dir / part_name(source, n))
    target = out_dir / manifest_name(source)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_bytes(orjson.dumps(manifest.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    temporary.replace(target)
    return manifest


def convert_path(source: Path, target: Path) -> Manifest:
    """Write `source` (a chat array or JSON Lines file) as one JSON Lines file `target`.

    Written under a temporary name and renamed: `target` is whole or absent.
    """
    temporary = target.with_name(f".{target.name}.tmp")
    try:
        manifest = _split(source, target.parent, MAX_PART_BYTES, lambda _: temporary,
                          single=True)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
    for part in manifest.parts:
        part.name = target.name
    return manifest
