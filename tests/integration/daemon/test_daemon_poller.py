"""The poller against a stand-in client: growth of intervals, terminal states, stuck imports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from streamdrop.service import settings
from streamdrop.service.context import Context
from streamdrop.service.poller import Poller
from streamdrop.storage.repository import NewTask, Repository
from streamdrop.storage.states import State
from streamdrop.stream.client import ImportTask

pytestmark = pytest.mark.anyio
OWNER = "testhost:1:poller"


class StandIn:
    """Answers get_import with whatever state the test sets."""

    def __init__(self) -> None:
        self.state = "analyzing"
        self.calls = 0

    async def get_import(self, import_id: str) -> ImportTask:
        self.calls += 1
        return ImportTask.from_json({"id": import_id, "state": self.state, "path": "s3://p",
                                     "mode": "upsert", "history": [], "result": None})


async def importing_task(repo: Repository, tmp_path: Path) -> None:
    await repo.ensure_targets(["default"])
    source = tmp_path / "drop" / "a.jsonl"
    source.parent.mkdir()
    source.write_bytes(b"{}")
    await repo.register(NewTask(
        identity="i", sha256="s", params_digest="p", target="default", mode="upsert",
        merge_custom=None, format="auto",
        params='{"notify": ["json://127.0.0.1:9/x"], "on_failure": "continue"}', rule="**",
        source_path=str(source), rel_path="a.jsonl", size=2, mtime_ns=1, found_at=1.0))
    claimed = await repo.claim("default", OWNER, 30, max_active=1)
    assert claimed is not None
    lease = claimed[1]
    await repo.advance(lease, State.UPLOADING, remote_path="s3://p")
    now = repo.clock()
    await repo.advance(lease, State.IMPORTING, import_id="imp", import_state="uploaded",
                       import_state_since=now, poll_interval=1.0, next_poll_at=now)


def make_context(repo: Repository, tmp_path: Path, client: Any) -> Context:
    config = settings.parse({"drop": {"path": str(tmp_path / "drop")},
                             "poll": {"min_interval_seconds": 1, "max_interval_seconds": 4,
                                      "stuck_after_seconds": 10}}, base=tmp_path, env={})
    return Context(settings=config, repo=repo, clients={"default": client}, owner=OWNER,
                   clock=repo.clock)


async def test_slow_import_is_polled_less_often_then_announced_as_stuck_then_finished(
        repo: Repository, clock: Any, tmp_path: Path) -> None:
    await importing_task(repo, tmp_path)
    client = StandIn()
    poller = Poller(make_context(repo, tmp_path, client))
    await poller.tick()
    (task,) = await repo.held_imports(OWNER)
    assert task.import_state == "analyzing"
    assert task.poll_interval == 1.0
    intervals = []
    for _ in range(6):
        clock.now += 5
        await poller.tick()
        (task,) = await repo.held_imports(OWNER)
        intervals.append(task.poll_interval)
    assert intervals == sorted(intervals)
    assert intervals[-1] == 4.0
    assert task.stuck_announced
    kinds = [n.kind for n in await repo.take_notifications(10, 60)]
    assert kinds == ["stuck"]
    client.state = "completed"
    clock.now += 5
    await poller.tick()
    done = await repo.get(task.id)
    assert done.state == State.COMPLETED
    assert await anyio.Path(done.dest_path or "").read_bytes() == b"{}"
