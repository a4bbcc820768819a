"""The steps' decisions on the in-memory store, a fake clock and a stand-in Stream: what a
found file becomes, what a claimed task goes through, what a crash half-way leaves to do."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from tests.fake_stream import FakeStream

from streamdrop.service import settings
from streamdrop.service.context import Context
from streamdrop.service.steps import process, register
from streamdrop.service.types import Found
from streamdrop.service.worker import Workers
from streamdrop.storage.rows import Lease, TaskRow
from streamdrop.storage.states import State
from streamdrop.testing import FakeClock, InMemoryRepository

pytestmark = pytest.mark.anyio

OWNER = "testhost:1:steps"
VALID = b'{"type":"user","data":{"id":"u1","role":"user"}}\n'
INVALID = b'{"type":"user","data":{"role":"user"}}\n{"type":"nonsense","data":{}}\n'
FEEDS = b'{"instruction":"users","data":[{"id":"u1","data":{"name":"A"}}]}\n'
RULES = [{"glob": "pause/**", "mode": "upsert", "on_failure": "pause"},
         {"glob": "insert/**", "mode": "insert", "notify": ["json://127.0.0.1:9/hook"]},
         {"glob": "*.jsonl", "mode": "upsert"}]


@pytest.fixture
def stream() -> FakeStream:
    return FakeStream()


@pytest.fixture
async def ctx(tmp_path: Path, store: InMemoryRepository, clock: FakeClock,
              stream: FakeStream) -> AsyncIterator[Context]:
    config = settings.parse({"drop": {"path": str(tmp_path / "drop")}, "rules": RULES},
                            base=tmp_path, env={})
    await store.ensure_targets(["default"])
    async with stream.client(clock.time) as client:
        yield Context(settings=config, repo=store, clients={"default": client}, owner=OWNER,
                      clock=clock.time)


async def found(ctx: Context, rel_path: str, data: bytes) -> Found:
    """A file written into the drop folder and found complete now."""
    path = anyio.Path(ctx.settings.drop.path / rel_path)
    await path.parent.mkdir(parents=True, exist_ok=True)
    await path.write_bytes(data)
    stat = await path.stat()
    return Found(Path(path), rel_path, stat.st_size, stat.st_mtime_ns, ctx.clock())


async def claimed(ctx: Context, rel_path: str, data: bytes) -> tuple[TaskRow, Lease]:
    task = await register(ctx, await found(ctx, rel_path, data))
    assert task is not None
    got = await ctx.repo.claim(task.target, OWNER, 30, max_active=10)
    assert got is not None
    return got


async def states_of(ctx: Context, task_id: int) -> list[str]:
    return [e.to_state for e in await ctx.repo.events_of(task_id)]


async def test_a_found_file_is_registered_once_and_a_copy_goes_to_duplicates(
        ctx: Context, store: InMemoryRepository) -> None:
    first = await found(ctx, "a.jsonl", VALID)
    seen = ctx.nudge.generation
    task = await register(ctx, first)
    assert task is not None
    assert (task.state, task.mode, task.rel_path) == (State.PENDING, "upsert", "a.jsonl")
    assert ctx.nudge.generation == seen + 1  # the workers were told
    again = await register(ctx, first)  # a restart rescanned it: still the same task
    assert again is not None
    assert again.id == task.id
    copy = await register(ctx, await found(ctx, "b.jsonl", VALID))
    assert copy is not None
    assert (copy.state, copy.duplicate_of) == (State.DUPLICATE, task.id)
    assert await anyio.Path(ctx.settings.drop.duplicates / "b.jsonl").read_bytes() == VALID
    assert not await anyio.Path(ctx.settings.drop.path / "b.jsonl").exists()
    assert len(store.tasks) == 2


async def test_the_same_bytes_under_another_mode_are_another_import(ctx: Context) -> None:
    upsert = await register(ctx, await found(ctx, "a.jsonl", VALID))
    insert = await register(ctx, await found(ctx, "insert/a.jsonl", VALID))
    assert upsert is not None
    assert insert is not None
    assert (upsert.state, insert.state) == (State.PENDING, State.PENDING)
    assert upsert.sha256 == insert.sha256
    assert upsert.identity != insert.identity


async def test_a_file_changed_while_hashed_or_without_a_rule_is_not_registered(
        ctx: Context, store: InMemoryRepository) -> None:
    stale = await found(ctx, "a.jsonl", VALID)
    await anyio.Path(stale.path).write_bytes(VALID + VALID)
    assert await register(ctx, stale) is None
    assert await register(ctx, await found(ctx, "notes.txt", b"hello")) is None  # no rule
    assert store.tasks == {}


async def test_a_valid_file_is_uploaded_and_imported_with_its_path_stored_before_the_put(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "a.jsonl", VALID)
    at_upload: list[str | None] = []
    stream.on_upload = lambda: at_upload.append(store.tasks[task.id].remote_path)
    polls = ctx.poll_nudge.generation
    await process(ctx, task, lease)
    row = await store.get(task.id)
    assert at_upload == ["s3://a.jsonl"]  # stored first: a crash after the PUT reconciles
    assert stream.uploads == {"s3://a.jsonl": VALID}
    assert (row.state, row.remote_path, row.import_id, row.import_state) == (
        State.IMPORTING, "s3://a.jsonl", "imp-1", "uploaded")
    assert row.next_poll_at == ctx.clock() + ctx.settings.poll.min_interval_seconds
    assert await states_of(ctx, task.id) == ["pending", "validating", "uploading", "importing"]
    assert ctx.poll_nudge.generation == polls + 1  # the poller was told


async def test_an_invalid_file_goes_to_failed_with_its_report_and_is_not_uploaded(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "insert/bad.jsonl", INVALID)
    await process(ctx, task, lease)
    row = await store.get(task.id)
    assert (row.state, row.lease_owner) == (State.INVALID, None)
    failed = anyio.Path(ctx.settings.drop.failed / "insert" / "bad.jsonl")
    assert await failed.read_bytes() == INVALID
    report = json.loads(await anyio.Path(f"{failed}.report.json").read_text())
    assert (report["task_id"], report["valid"]) == (task.id, False)
    assert report["error_count"] == len(report["errors"]) >= 2
    assert not any(r.startswith("POST") for r in stream.requests)
    (note,) = await store.take_notifications(10, 60)
    assert (note.kind, json.loads(note.urls)) == ("invalid", ["json://127.0.0.1:9/hook"])


async def test_a_valid_feeds_file_is_ready_without_an_upload(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "f.jsonl", FEEDS)
    await process(ctx, task, lease)
    assert (await store.get(task.id)).state == State.READY
    assert await anyio.Path(ctx.settings.drop.ready / "f.jsonl").read_bytes() == FEEDS
    assert stream.uploads == {}


async def test_a_file_changed_after_it_was_found_is_skipped_and_left_in_place(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "a.jsonl", VALID)
    await anyio.Path(task.source_path).write_bytes(VALID + VALID)
    await process(ctx, task, lease)
    row = await store.get(task.id)
    assert (row.state, row.dest_path) == (State.SKIPPED, None)
    assert await anyio.Path(task.source_path).exists()
    assert stream.uploads == {}


async def test_a_failure_under_on_failure_pause_holds_the_target(
        ctx: Context, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "pause/bad.jsonl", INVALID)
    await register(ctx, await found(ctx, "later.jsonl", VALID))
    await process(ctx, task, lease)
    (target,) = await store.list_targets()
    assert (target.paused, target.paused_reason) == (True, f"task {task.id} invalid")
    assert await store.claim("default", OWNER, 30, max_active=10) is None


async def test_after_a_crash_mid_upload_the_import_of_the_stored_path_is_followed(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "a.jsonl", VALID)
    await store.advance(lease, State.UPLOADING, remote_path="s3://a.jsonl")
    stream.states["imp-7"], stream.paths["imp-7"] = "analyzing", "s3://a.jsonl"
    await store.reap(lambda owner: owner == OWNER)  # the daemon that held it died
    again = await store.claim("default", OWNER, 30, max_active=10)
    assert again is not None
    await process(ctx, *again)
    row = await store.get(task.id)
    assert (row.state, row.import_id, row.import_state) == (State.IMPORTING, "imp-7",
                                                            "analyzing")
    assert "POST /imports" not in stream.requests  # no second import
    assert stream.uploads == {}
    assert (await store.events_of(task.id))[-1].detail == "reconciled"


async def test_after_a_crash_before_the_import_was_created_the_file_is_uploaded_again(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "a.jsonl", VALID)
    await store.advance(lease, State.UPLOADING, remote_path="s3://a.jsonl")
    await store.reap(lambda owner: owner == OWNER)
    again = await store.claim("default", OWNER, 30, max_active=10)
    assert again is not None
    await process(ctx, *again)
    row = await store.get(task.id)
    assert (row.state, row.import_id) == (State.IMPORTING, "imp-1")
    assert stream.requests.count("POST /imports") == 1
    assert stream.uploads == {"s3://a.jsonl": VALID}


async def test_draining_after_validation_leaves_the_upload_to_the_next_daemon(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "a.jsonl", VALID)
    ctx.draining.set()
    await process(ctx, task, lease)
    row = await store.get(task.id)
    assert (row.state, row.lease_owner, row.error) == (State.PENDING, None, "shutdown")
    assert stream.uploads == {}
    again = await store.claim("default", "other:2:x", 30, max_active=10)
    assert again is not None  # taken up at once by whoever comes next
    assert again[0].id == task.id


async def test_a_task_finished_before_its_file_was_moved_has_the_move_done_on_rescan(
        ctx: Context, store: InMemoryRepository) -> None:
    _, lease = await claimed(ctx, "a.jsonl", VALID)
    dest = ctx.settings.drop.done / "a.jsonl"
    await store.advance(lease, State.UPLOADING, remote_path="s3://a.jsonl")
    await store.advance(lease, State.IMPORTING, import_id="imp-1")
    await store.advance(lease, State.COMPLETED, dest_path=str(dest), report='{"ok": true}')
    # the daemon died here, before moving the file; a restart finds it again
    again = await register(ctx, await found(ctx, "a.jsonl", VALID))
    assert again is None
    assert await anyio.Path(dest).read_bytes() == VALID
    assert json.loads(await anyio.Path(f"{dest}.report.json").read_text()) == {"ok": True}
    assert len(store.tasks) == 1


async def test_stream_unavailable_gives_the_task_back_with_a_backoff(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "a.jsonl", VALID)
    stream.refuse["POST /import_urls"] = 503
    await Workers(ctx, ["default"]).work(task, lease)
    row = await store.get(task.id)
    assert (row.state, row.lease_owner) == (State.PENDING, None)  # nothing runs it now
    assert row.error is not None
    assert "503" in row.error
    assert row.next_attempt_at is not None
    assert row.next_attempt_at >= ctx.clock() + 0.5


async def test_a_request_stream_refuses_fails_the_task_for_good(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task, lease = await claimed(ctx, "a.jsonl", VALID)
    stream.refuse["POST /import_urls"] = 400
    await Workers(ctx, ["default"]).work(task, lease)
    row = await store.get(task.id)
    assert row.state == State.FAILED
    report = json.loads(
        await anyio.Path(ctx.settings.drop.failed / "a.jsonl.report.json").read_text())
    assert report["error"] == row.error
