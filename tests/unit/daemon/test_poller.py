"""The poller's decisions on the in-memory store and a fake clock, with the real client
over httpx.MockTransport: intervals grow, stuck imports are announced once, terminal
states finish the task, a vanished import is asked again then fails it, a move that
fails waits for a later round, many imports are read by the page."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import structlog
from structlog.testing import capture_logs
from tests.factories import new_task
from tests.fake_stream import FakeStream

from streamdrop.service import moves, settings
from streamdrop.service.context import Context
from streamdrop.service.poller import MISSING_POLLS_TO_FAIL, Poller
from streamdrop.storage.rows import TaskRow
from streamdrop.storage.states import State
from streamdrop.testing import FakeClock, InMemoryRepository

pytestmark = pytest.mark.anyio
OWNER = "testhost:1:poller"
NOTIFY = '{"notify": ["json://127.0.0.1:9/x"], "on_failure": "continue"}'


@pytest.fixture
def stream() -> FakeStream:
    return FakeStream()


@pytest.fixture
async def ctx(tmp_path: Path, store: InMemoryRepository, clock: FakeClock,
              stream: FakeStream) -> AsyncIterator[Context]:
    config = settings.parse({"drop": {"path": str(tmp_path / "drop")},
                             "poll": {"min_interval_seconds": 1, "max_interval_seconds": 4,
                                      "stuck_after_seconds": 10, "list_threshold": 3}},
                            base=tmp_path, env={})
    async with stream.client(clock.time) as client:
        yield Context(settings=config, repo=store, clients={"default": client}, owner=OWNER,
                      clock=clock.time)


async def importing(ctx: Context, stream: FakeStream, name: str,
                    product: str | None = None) -> TaskRow:
    """A task of ours whose import `imp-NAME` Stream is analyzing (an Import V2 one
    processing, for product `feeds`); its file in drop/."""
    store = ctx.repo
    source = ctx.settings.drop.path / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"{}")
    await store.ensure_targets(["default"])
    await store.register(new_task(name, source_path=str(source), params=NOTIFY))
    claimed = await store.claim("default", OWNER, 30, max_active=100)
    assert claimed is not None
    lease = claimed[1]
    await store.advance(lease, State.UPLOADING, remote_path="s3://p", product=product)
    now = ctx.clock()
    if product == "feeds":
        stream.v2_states[f"imp-{name}"] = 2
    else:
        stream.states[f"imp-{name}"] = "analyzing"
    return await store.advance(lease, State.IMPORTING, import_id=f"imp-{name}",
                               import_state="uploaded", import_state_since=now,
                               poll_interval=1.0, next_poll_at=now)


async def test_slow_import_is_polled_less_often_then_announced_as_stuck_then_finished(
        ctx: Context, stream: FakeStream, store: InMemoryRepository, clock: FakeClock) -> None:
    await importing(ctx, stream, "a.jsonl")
    poller = Poller(ctx)
    assert await poller.tick() == 1.0  # the next poll is due in min_interval_seconds
    (task,) = await store.held_imports(OWNER)
    assert (task.import_state, task.poll_interval) == ("analyzing", 1.0)
    intervals = []
    for _ in range(6):
        clock.advance(5)
        await poller.tick()
        (task,) = await store.held_imports(OWNER)
        intervals.append(task.poll_interval)
    assert intervals == [1.5, 2.25, 3.375, 4.0, 4.0, 4.0]
    assert task.stuck_announced
    assert [n.kind for n in await store.take_notifications(10, 60)] == ["stuck"]
    stream.states["imp-a.jsonl"] = "completed"
    clock.advance(5)
    await poller.tick()
    done = await store.get(task.id)
    assert (done.state, done.import_state, done.lease_owner) == (State.COMPLETED, "completed",
                                                                  None)
    assert done.dest_path is not None
    assert await anyio.Path(done.dest_path).read_bytes() == b"{}"
    report = json.loads(await anyio.Path(done.dest_path + ".report.json").read_text())
    assert (report["state"], report["history"]) == ("completed", [{"state": "uploaded"}])
    assert [n.kind for n in await store.take_notifications(10, 60)] == ["imported"]


async def test_only_imports_that_are_due_are_polled(
        ctx: Context, stream: FakeStream, clock: FakeClock) -> None:
    await importing(ctx, stream, "a.jsonl")
    poller = Poller(ctx)
    await poller.tick()
    clock.advance(0.5)  # the next poll is a second after the first
    assert await poller.tick() == 0.5
    assert len(stream.requests) == 1
    clock.advance(0.5)
    await poller.tick()
    assert len(stream.requests) == 2


async def test_a_failed_import_finishes_the_task_with_streams_state(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task = await importing(ctx, stream, "a.jsonl")
    stream.states["imp-a.jsonl"] = "analyze_failed"
    await Poller(ctx).tick()
    failed = await store.get(task.id)
    assert (failed.state, failed.import_state) == (State.FAILED, "analyze_failed")
    assert failed.error == "Stream's import ended in state analyze_failed"
    assert failed.dest_path == str(ctx.settings.drop.failed / "a.jsonl")


async def test_an_import_stream_no_longer_knows_is_asked_again_then_fails_the_task(
        ctx: Context, stream: FakeStream, store: InMemoryRepository, clock: FakeClock) -> None:
    task = await importing(ctx, stream, "a.jsonl")
    del stream.states["imp-a.jsonl"]
    poller = Poller(ctx)
    for _ in range(MISSING_POLLS_TO_FAIL - 1):
        await poller.tick()
        assert (await store.get(task.id)).state == State.IMPORTING
        clock.advance(10)
    await poller.tick()
    failed = await store.get(task.id)
    assert failed.state == State.FAILED
    assert json.loads(failed.report or "{}")["state"] == "missing"
    assert f"{MISSING_POLLS_TO_FAIL} times in a row" in (failed.error or "")


async def test_an_import_missing_for_a_few_polls_is_followed_to_its_end_when_back(
        ctx: Context, stream: FakeStream, store: InMemoryRepository, clock: FakeClock) -> None:
    task = await importing(ctx, stream, "a.jsonl")
    del stream.states["imp-a.jsonl"]  # Stream restarted and has not caught up yet
    poller = Poller(ctx)
    for _ in range(MISSING_POLLS_TO_FAIL - 1):
        await poller.tick()
        clock.advance(10)
    stream.states["imp-a.jsonl"] = "completed"
    await poller.tick()
    assert (await store.get(task.id)).state == State.COMPLETED


async def test_a_finished_task_whose_move_fails_waits_and_moves_on_a_later_round(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task = await importing(ctx, stream, "a.jsonl")
    done = ctx.settings.drop.done
    done.write_bytes(b"not a folder")  # a real failure: the move cannot make done/
    stream.states["imp-a.jsonl"] = "completed"
    finished: list[int] = []
    with capture_logs() as logs:
        await Poller(ctx).tick()
        (waiting,) = await store.pending_moves()
        assert waiting.state == State.COMPLETED
        assert "moving the file failed" in (waiting.move_error or "")
        assert (ctx.settings.drop.path / "a.jsonl").exists()
        assert await moves.retry_round(ctx, lambda t, _landed: finished.append(t.id)) == 1
        done.unlink()
        assert await moves.retry_round(ctx, lambda t, _landed: finished.append(t.id)) == 0
    assert await store.pending_moves() == []
    assert finished == [task.id]
    assert (done / "a.jsonl").read_bytes() == b"{}"
    assert json.loads((done / "a.jsonl.report.json").read_text())["state"] == "completed"
    events = [e["event"] for e in logs]
    assert events.count("task.move_failed") == 1
    assert "task.finished" not in events  # announced by `finished`, once the file is there
    assert events.count("task.moves_pending") == 1


async def test_an_unanswered_poll_backs_off_and_counts_towards_giving_up(
        ctx: Context, stream: FakeStream, store: InMemoryRepository, clock: FakeClock) -> None:
    task = await importing(ctx, stream, "a.jsonl")
    poller = Poller(ctx)
    stream.status = 503
    for _ in range(3):
        await poller.tick()
        clock.advance(10)
    held = await store.get(task.id)
    assert (held.state, held.poll_interval) == (State.IMPORTING, 3.375)
    assert held.error is not None
    assert poller.given_up(3) == {task.id}
    assert poller.given_up(4) == set()
    stream.status = 200
    await poller.tick()
    assert poller.given_up(1) == set()  # an answer starts the count over


async def test_a_poll_is_sent_in_its_tasks_log_context(
        ctx: Context, stream: FakeStream) -> None:
    """The client's own lines (a retry, a refusal) then say which task they are about."""
    task = await importing(ctx, stream, "a.jsonl")
    stream.log_contexts.clear()
    await Poller(ctx).tick()
    assert stream.requests[-1] == "GET /imports/imp-a.jsonl"
    assert stream.log_contexts[-1]["task_id"] == task.id
    assert stream.log_contexts[-1]["file"] == "a.jsonl"


async def test_many_imports_are_read_by_the_page(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    for n in range(5):  # more than list_threshold (3)
        await importing(ctx, stream, f"f{n}.jsonl")
    stream.states["imp-f2.jsonl"] = "completed"
    await Poller(ctx).tick()
    assert stream.requests == ["GET /imports"]  # one page for all five
    states = {t.rel_path: t.state for t in await store.list_tasks()}
    assert states["f2.jsonl"] == State.COMPLETED
    assert {s for name, s in states.items() if name != "f2.jsonl"} == {State.IMPORTING}


# -- Import V2 (Feeds v3) -------------------------------------------------------------


async def test_an_import_v2_task_is_followed_through_its_own_api_to_completed(
        ctx: Context, stream: FakeStream, store: InMemoryRepository, clock: FakeClock) -> None:
    task = await importing(ctx, stream, "f.jsonl", product="feeds")
    poller = Poller(ctx)
    await poller.tick()
    held = await store.get(task.id)
    assert (held.state, held.import_state) == (State.IMPORTING, "processing (2)")
    stream.v2_states["imp-f.jsonl"] = 3
    stream.v2_results["imp-f.jsonl"] = {"stats": {"activities": 1}}
    clock.advance(5)
    await poller.tick()
    done = await store.get(task.id)
    assert (done.state, done.import_state) == (State.COMPLETED, "completed (3)")
    assert stream.requests == ["GET /api/v2/imports/v2/imp-f.jsonl"] * 2
    report = json.loads(await anyio.Path((done.dest_path or "") + ".report.json").read_text())
    assert report["result"] == {"stats": {"activities": 1}}


async def test_a_failed_import_v2_task_goes_to_failed_with_streams_result(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task = await importing(ctx, stream, "f.jsonl", product="feeds")
    stream.v2_states["imp-f.jsonl"] = 4
    stream.v2_results["imp-f.jsonl"] = {"errors": [{"error": "no such feed group"}]}
    await Poller(ctx).tick()
    failed = await store.get(task.id)
    assert (failed.state, failed.error) == (State.FAILED,
                                            "Stream's import ended in state failed (4)")
    assert failed.dest_path == str(ctx.settings.drop.failed / "f.jsonl")
    assert json.loads(failed.report or "{}")["result"]["errors"][0]["error"] == (
        "no such feed group")


async def test_an_unknown_import_v2_state_is_followed_as_still_running(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    task = await importing(ctx, stream, "f.jsonl", product="feeds")
    stream.v2_states["imp-f.jsonl"] = 7
    await Poller(ctx).tick()
    held = await store.get(task.id)
    assert (held.state, held.import_state) == (State.IMPORTING, "unknown (7)")


async def test_many_imports_of_both_apis_are_read_by_the_page_of_each(
        ctx: Context, stream: FakeStream, store: InMemoryRepository) -> None:
    for n in range(3):
        await importing(ctx, stream, f"c{n}.jsonl")
        await importing(ctx, stream, f"f{n}.jsonl", product="feeds")
    stream.states["imp-c1.jsonl"] = "completed"
    stream.v2_states["imp-f1.jsonl"] = 3
    await Poller(ctx).tick()
    assert sorted(stream.requests) == ["GET /api/v2/imports/v2", "GET /imports"]
    states = {t.rel_path: t.state for t in await store.list_tasks()}
    assert (states["c1.jsonl"], states["f1.jsonl"]) == (State.COMPLETED, State.COMPLETED)
    assert {s for name, s in states.items() if name[1] != "1"} == {State.IMPORTING}


class _Lines(io.StringIO):
    def isatty(self) -> bool:
        return False


async def test_a_failed_poll_is_logged_with_every_field_of_its_task(
        ctx: Context, stream: FakeStream, store: InMemoryRepository, clock: FakeClock) -> None:
    from streamdrop import log

    task = await importing(ctx, stream, "insert/a.jsonl")
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    lines = _Lines()
    log.configure("info", "json", lines)
    structlog.configure(cache_logger_on_first_use=False)  # nothing cached beyond this test
    try:
        stream.status = 503
        await Poller(ctx).tick()
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        structlog.reset_defaults()
    records = [json.loads(line) for line in lines.getvalue().splitlines()]
    (failed,) = [r for r in records if r["event"] == "task.poll_failed"]
    assert failed["file"] == "insert/a.jsonl"  # relative to the drop folder, as everywhere
    assert (failed["task_id"], failed["sha256"], failed["mode"], failed["import_id"]) == (
        task.id, task.sha256, task.mode, task.import_id)
