"""Both cores for one big chat file, cut in two at an item boundary; the verdict of one pass.

This process checks the first part while a helper process checks the
second. What the second part's checks depend on in the first part is the
index of ids (and, in JSON Lines, the highest item kind so far); the helper
builds it itself with a quick index-only pass over the first part
(`IndexOnly`, no rules), which gives exactly the full pass's index when the
first part has no field or parse error. So:

- the first part is checked here, in full, as usual;
- the helper indexes the first part, then checks the second as a single
  pass would go on at the cut, and waits;
- if the first part came out without a field or parse error (the index the
  helper assumed is the real one), its parked items (forward references) go
  to the helper, which checks every parked item of the file in file order
  against the whole index, then the distinct channels, and sends back what
  it found; the two parts' findings are joined (`chat_verdict.Findings`).
- otherwise the helper is stopped and this process goes on past the cut
  itself (or, if the array reader may have been misled by the cut, starts
  again): the verdict is the single pass's in every case, only slower.

Each part is read through a `reader.Window`: bytes of the file between two
offsets, with the array's `]` or `[` supplied, positions and item numbers
starting where the part starts in the file. The cut of an array is a
`}`-`,`-`{` whose following object decodes as an item; the first part's
reader proves it a real item boundary (it could not have read the part to a
clean end otherwise). Peak memory: this process keeps the first part's
index, the helper the whole file's (as one pass would).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, BinaryIO, Final

import orjson

from streamdrop.validation.chat import ChatValidator
from streamdrop.validation.chat_verdict import Findings, chat_result
from streamdrop.validation.index_pass import IndexOnly, index_lines
from streamdrop.validation.model import Format, Options, Result
from streamdrop.validation.reader import (
    OBJECT_END,
    OnProgress,
    Start,
    Window,
    read_items,
    scan_value,
)
from streamdrop.validation.source import open_regular
from streamdrop.validation.spill import SpillList

FORMATS: Final[tuple[Format, ...]] = ("chat", "chat-jsonl")
# Below this a second process costs more than it saves (it starts in ~0.1 s).
MIN_BYTES: Final = 16 * 1024 * 1024
# The helper indexes the first part before it checks the second (about this
# fraction of a full check's time per byte), so the first part is the larger.
INDEX_PASS_COST: Final = {"chat": 0.4, "chat-jsonl": 0.3}
CUT_WINDOW: Final = 4 * 1024 * 1024
PARKED_BATCH: Final = 10_000
_PR_SET_PDEATHSIG: Final = 1


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass(frozen=True, slots=True)
class Job:
    """The helper's task: which file, which parts, under which options."""

    path: Path
    identity: tuple[int, int, int, int]  # device, inode, size, mtime: the same file
    options: Options
    jsonl: bool
    start: Start  # where the content starts (after blanks)
    first_end: int  # the first part is [start.offset, first_end)
    second: int  # the second part is [second, size)
    size: int


@dataclass(slots=True)
class Cut:
    first_end: int
    second: int
    line: int = 0  # the line of `second`, known once the first part is read
    items: int = 0  # the number of the second part's first item


def validate(path: Path, file: BinaryIO, size: int, options: Options, *, jsonl: bool,
             start: Start, on_progress: OnProgress | None) -> Result | None:
    """The verdict on a big chat file, on two cores; None: check it in one pass instead."""
    if size - start.offset < MIN_BYTES or usable_cores() < 2:
        return None
    fmt = "chat-jsonl" if jsonl else "chat"
    share = 1 / (2 - INDEX_PASS_COST[fmt])
    cut = find_cut(file, start.offset + int((size - start.offset) * share), size, jsonl=jsonl)
    if cut is None:
        return None
    st = os.fstat(file.fileno())
    job = Job(path, (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns), options, jsonl, start,
              cut.first_end, cut.second, size)
    with _helper(job) as helper:
        return _first_part(helper, job, file, cut, on_progress)


# -- this process: the first part ----------------------------------------------

def _first_part(helper: Helper, job: Job, file: BinaryIO, cut: Cut,
                on_progress: OnProgress | None) -> Result | None:
    validator = ChatValidator(job.options, jsonl=job.jsonl)
    window = _first_window(file, job)
    cut.items = read_items(validator, window, array=not job.jsonl, start=job.start,
                           max_item_bytes=job.options.max_item_bytes,
                           on_progress=_scaled(on_progress, job))
    cut.line = job.start.line + window.newlines + _newlines(file, cut.first_end, cut.second)
    if validator.field_errors.count == 0:
        conn = helper.conn
        if _receive(conn) == ("ready", cut.items, cut.line):
            # The first part's parked items, in file order, a batch at a time (they may be many).
            for batch in _batches(validator.references.parked, PARKED_BATCH):
                conn.send(("parked", batch))
            conn.send(("go",))
            done = _receive(conn)
            if done is not None and done[0] == "done":
                return chat_result(_joined(validator, done[1]))
    helper.stop()  # what it found is of no use: the first part is not what it assumed
    if not job.jsonl and validator.parse_errors:
        return None  # the cut may have misled the reader: one pass from the start
    _read_second(validator, file, job, cut)  # go on alone from the cut
    return validator.finish()


def _scaled(on_progress: OnProgress | None, job: Job) -> OnProgress | None:
    """Progress through the first part shown as progress through the file: both parts
    take about as long, the helper's part ending when this one does."""
    if on_progress is None:
        return None
    begin = job.start.offset
    factor = (job.size - begin) / max(1, job.first_end - begin)
    return lambda pos: on_progress(min(job.size, begin + int((pos - begin) * factor)))


def _batches(entries: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _joined(first: ChatValidator, second: Findings) -> Findings:
    """The first part's problems found as it streamed, with the rest from the helper."""
    now = first.references.now
    return Findings(
        jsonl=second.jsonl, field_errors=second.field_errors,
        reference_errors=[now.errors, *second.reference_errors],
        reference_warnings=[now.warnings, *second.reference_warnings],
        completeness_errors=second.completeness_errors,
        completeness_warnings=second.completeness_warnings, stats=second.stats,
    )


def _receive(conn: Connection) -> Any:
    """The helper's next message; None when it died or failed."""
    try:
        message = conn.recv()
    except (EOFError, OSError):
        return None
    return None if message[0] == "failed" else message


# -- the helper process: index the first part, check the second, then the rest ----

def _second_part(conn: Connection, job: Job) -> None:
    with open_regular(job.path) as file:
        st = os.fstat(file.fileno())
        if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != job.identity:
            conn.send(("failed", "the file changed"))
            return
        validator = ChatValidator(job.options, jsonl=job.jsonl)
        indexer = IndexOnly(validator)
        window = _first_window(file, job)
        if job.jsonl:
            items = index_lines(indexer, window, job.start)
        else:
            items = read_items(indexer, window, array=True, start=job.start,
                               max_item_bytes=job.options.max_item_bytes)
        if indexer.trouble:
            conn.send(("failed", indexer.trouble))
            return
        cut = Cut(job.first_end, job.second, items=items,
                  line=job.start.line + window.newlines + _newlines(file, job.first_end,
                                                                    job.second))
        _read_second(validator, file, job, cut)
    conn.send(("ready", cut.items, cut.line))
    parked = SpillList()  # the first part's, then the second's: file order
    while (message := conn.recv())[0] == "parked":
        parked.extend(message[1])
    if message[0] != "go":
        return
    parked.extend(iter(validator.references.parked))
    validator.references.parked = parked
    conn.send(("done", validator.findings()))


def _first_window(file: BinaryIO, job: Job) -> Window:
    return Window(file, job.start.offset, job.first_end, suffix=b"" if job.jsonl else b"]")


def _read_second(validator: ChatValidator, file: BinaryIO, job: Job, cut: Cut) -> None:
    prefix = b"" if job.jsonl else b"["
    window = Window(file, cut.second, job.size, prefix=prefix)
    read_items(validator, window, array=not job.jsonl,
               start=Start(cut.second - len(prefix), cut.line, cut.items),
               max_item_bytes=job.options.max_item_bytes, whole_file=False)


def _newlines(file: BinaryIO, begin: int, end: int) -> int:
    file.seek(begin)
    return file.read(end - begin).count(b"\n")


# -- finding the cut -------------------------------------------------------------

def find_cut(file: BinaryIO, target: int, size: int, *, jsonl: bool) -> Cut | None:
    """An item boundary at or after `target`: where the first part ends, the second starts."""
    file.seek(target)
    window = file.read(CUT_WINDOW)
    if jsonl:
        newline = window.find(b"\n")
        if newline < 0 or target + newline + 1 >= size:
            return None
        return Cut(target + newline + 1, target + newline + 1)
    for attempt, match in enumerate(OBJECT_END.finditer(window)):
        if attempt >= 64:
            break
        if window[match.end() - 1] == 0x7B and _opens_an_item(window, match.end() - 1):
            return Cut(target + match.start() + 1, target + match.end() - 1)
    return None


def _opens_an_item(window: bytes, pos: int) -> bool:
    """Does an array item (`{"type": ..., "item": {...}}`) start at `pos`? (a guess)"""
    end = scan_value(window, pos, False, 0, False)
    if not isinstance(end, int):
        return False
    try:
        value = orjson.loads(window[pos:end])
    except orjson.JSONDecodeError:
        return False
    after = window[end:end + 64].lstrip(b" \t\r\n")[:1]
    return (type(value) is dict and type(value.get("type")) is str
            and type(value.get("item")) is dict and after in (b",", b"]"))


# -- the helper process itself ------------------------------------------------------

@dataclass(slots=True)
class Helper:
    """The connection to a started helper, and how to stop it and wait for its end."""

    conn: Connection
    stop: Callable[[], None]
    wait: Callable[[float], None]


def launch(job: Job) -> Helper:
    """Start a helper process on `job`."""
    # fork is quick (nothing to import again) but only safe without other threads.
    method = "fork" if threading.active_count() == 1 and sys.platform == "linux" else "spawn"
    context: Any = multiprocessing.get_context(method)
    ours, theirs = context.Pipe()
    process = context.Process(target=run_helper, args=(theirs, job, os.getpid()), daemon=True,
                              name="streamdrop-validate-helper")
    process.start()
    theirs.close()

    def wait(timeout: float) -> None:
        process.join(timeout)
        if process.is_alive():
            process.kill()
            process.join()

    return Helper(ours, process.kill, wait)


@contextlib.contextmanager
def _helper(job: Job) -> Iterator[Helper]:
    """A helper on `job` while the block runs; it is stopped if it has not ended by itself."""
    helper = launch(job)
    try:
        yield helper
    except BaseException:  # interrupted (Ctrl-C, a cancelled worker): no waiting for it
        helper.stop()
        raise
    finally:
        helper.conn.close()
        helper.wait(5)


def run_helper(conn: Connection, job: Job, parent: int) -> None:
    """The helper process: it dies with its parent and leaves signals to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)
    serve(conn, job)


def serve(conn: Connection, job: Job) -> None:
    """Do the helper's part of `job`, talking over `conn`."""
    try:
        _second_part(conn, job)
    except Exception as exc:  # any failure: the parent goes on alone
        with contextlib.suppress(OSError):
            conn.send(("failed", repr(exc)))
    finally:
        conn.close()
