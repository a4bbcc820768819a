"""The client's Import V2 calls against the emulator over real loopback HTTP.

One FakeClock drives the emulator's steps and the client's waits.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from streamdrop.stream.client import ImportTask, ImportV2Task, StreamClient
from streamdrop.stream.credentials import Credentials
from streamdrop.stream.errors import AuthenticationError, NotFoundError, TerminalError
from streamdrop.stream.follow import get_any_import, watch_import
from streamdrop.stream.import_states import V2_COMPLETED, V2_QUEUED, PollSchedule
from streamdrop.stream.retry import RetryPolicy
from streamdrop.testing import EmulatorHandle, FakeClock, running_emulator

CHAT = b'{"type":"user","data":{"id":"u1"}}\n{"type":"user","data":{"id":"u2"}}\n'
FEEDS_V3 = (b'{"type":"user","data":{"id":"u1"}}\n'
            b'{"type":"activity","data":{"id":"a1","type":"post","user_id":"u1",'
            b'"fids":["user:u1"]}}\n')
STEP = 5.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[EmulatorHandle]:
    with running_emulator(clock=clock, step_seconds=STEP) as handle:
        yield handle


async def _sleep_on(clock: FakeClock, seconds: float) -> None:
    clock.advance(seconds)
    await anyio.lowlevel.checkpoint()


def client_for(handle: EmulatorHandle, clock: FakeClock, secret: str | None = None) -> StreamClient:
    credentials = Credentials(handle.api_key, secret or handle.api_secret, handle.base_url)
    return StreamClient(credentials, clock=clock.time, rng=random.Random(3),
                        sleep=lambda seconds: _sleep_on(clock, seconds),
                        policy=RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3))


def write(tmp_path: Path, content: bytes, name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


async def states_seen(client: StreamClient, clock: FakeClock, import_id: str) -> list[str]:
    schedule = PollSchedule(initial=2.0, maximum=5.0)
    sleep = lambda seconds: _sleep_on(clock, seconds)  # noqa: E731
    async with aclosing(watch_import(client, import_id, schedule=schedule, sleep=sleep)) as tasks:
        return [task.state_label async for task in tasks]


@pytest.mark.anyio
async def test_import_file_v2_uploads_unchanged_and_is_followed_to_completed(
    emulator: EmulatorHandle, clock: FakeClock, tmp_path: Path
) -> None:
    path = write(tmp_path, CHAT)
    async with client_for(emulator, clock) as client:
        task = await client.import_file_v2(path, "chat", skip_references_check=True)
        assert (task.product, task.state) == ("chat", V2_QUEUED)
        assert task.settings["s3"]["bucket"] == "upload"
        assert task.settings["skip_references_check"] is True
        assert await states_seen(client, clock, task.id) == [
            "queued (1)", "processing (2)", "completed (3)"]
        done = await client.get_import_v2(task.id)
    assert done.state == V2_COMPLETED
    assert done.result["stats"]["total"]["users"] == 2
    stored = emulator.imports()
    assert [(s["api"], s["product"], s["sha256"]) for s in stored] == [
        ("imports/v2", "chat", hashlib.sha256(CHAT).hexdigest())]


@pytest.mark.anyio
async def test_a_feeds_import_is_created_with_product_feeds(
    emulator: EmulatorHandle, clock: FakeClock, tmp_path: Path
) -> None:
    async with client_for(emulator, clock) as client:
        task = await client.import_file_v2(write(tmp_path, FEEDS_V3))
        seen = await states_seen(client, clock, task.id)
    assert task.product == "feeds"
    assert emulator.imports()[0]["product"] == "feeds"
    assert seen[-1] == "completed (3)"


@pytest.mark.anyio
async def test_either_kind_is_found_by_id(
    emulator: EmulatorHandle, clock: FakeClock, tmp_path: Path
) -> None:
    async with client_for(emulator, clock) as client:
        classic = await client.import_file(write(tmp_path, CHAT, "a.jsonl"))
        v2 = await client.import_file_v2(write(tmp_path, CHAT, "b.jsonl"), "chat")
        assert isinstance(await get_any_import(client, classic.id), ImportTask)
        found = await get_any_import(client, v2.id)
        assert isinstance(found, ImportV2Task)
        assert found.id == v2.id
        with pytest.raises(NotFoundError, match=r"no import 'no-such-task': neither chat's "
                           r"/imports .* nor Import V2 .* has it"):
            await get_any_import(client, "no-such-task")


@pytest.mark.anyio
async def test_list_pages_by_cursor_filters_by_state_and_find_walks_the_pages(
    emulator: EmulatorHandle, clock: FakeClock, tmp_path: Path
) -> None:
    async with client_for(emulator, clock) as client:
        made = [await client.import_file_v2(write(tmp_path, CHAT, f"{n}.jsonl"), "chat")
                for n in range(3)]
        first = await client.list_imports_v2(limit=2)
        assert [t.id for t in first.tasks] == [made[2].id, made[1].id]
        rest = await client.list_imports_v2(limit=2, cursor=first.next)
        assert ([t.id for t in rest.tasks], rest.next) == ([made[0].id], None)
        assert rest.prev is not None
        clock.advance(2 * STEP)
        completed = await client.list_imports_v2(state=V2_COMPLETED)
        assert len(completed.tasks) == 3
        assert (await client.list_imports_v2(state=V2_QUEUED)).tasks == []
        found = await client.find_import_v2(made[0].dir)
    assert found is not None
    assert found.id == made[0].id


@pytest.mark.anyio
async def test_cancel_and_delete_follow_streams_rules(
    emulator: EmulatorHandle, clock: FakeClock, tmp_path: Path
) -> None:
    async with client_for(emulator, clock) as client:
        doomed = await client.import_file_v2(write(tmp_path, CHAT, "a.jsonl"), "chat")
        await client.delete_import_v2(doomed.id)
        with pytest.raises(NotFoundError):
            await client.get_import_v2(doomed.id)
        task = await client.import_file_v2(write(tmp_path, CHAT, "b.jsonl"), "chat")
        clock.advance(STEP)
        with pytest.raises(TerminalError, match="only a queued"):
            await client.delete_import_v2(task.id)
        await client.cancel_import_v2(task.id)
        clock.advance(STEP)
        cancelled = await client.get_import_v2(task.id)
        assert cancelled.state_label == "failed (4)"
        assert cancelled.result == {"errors": [{"error": "the import was cancelled"}]}
        with pytest.raises(TerminalError, match="cancelled"):
            await client.cancel_import_v2(task.id)


@pytest.mark.anyio
async def test_a_wrong_secret_is_refused_on_v2_routes(
    emulator: EmulatorHandle, clock: FakeClock
) -> None:
    async with client_for(emulator, clock, secret="not-the-secret-" + "x" * 32) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.list_imports_v2()
    assert caught.value.code == 43
