"""The Stream client against the emulator over real loopback HTTP.

Time is a FakeClock shared by the emulator (import steps, rate windows) and the
client (budget, 429 resets): the client's sleeps advance it, so nothing here
waits for real except the emulator's analysis thread.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest

from streamdrop.stream.client import StreamClient, fetch_app_options
from streamdrop.stream.credentials import Credentials
from streamdrop.stream.errors import (
    AuthenticationError,
    FileChangedError,
    NotFoundError,
    RateLimitedError,
    RetryableError,
    TerminalError,
)
from streamdrop.stream.follow import watch_import
from streamdrop.stream.import_states import Outcome, PollSchedule
from streamdrop.stream.retry import RetryPolicy
from streamdrop.testing import EmulatorHandle, FakeClock, running_emulator

VALID_LINES = [
    '{"type":"user","data":{"id":"user_001","name":"Jesse","role":"user"}}',
    '{"type":"channel","data":{"id":"channel_001","type":"messaging","created_by":"user_001"}}',
    '{"type":"member","data":{"channel_type":"messaging","channel_id":"channel_001",'
    '"user_id":"user_001"}}',
    '{"type":"message","data":{"id":"message_001","channel_type":"messaging",'
    '"channel_id":"channel_001","user":"user_001","text":"hello"}}',
    '{"type":"reaction","data":{"message_id":"message_001","type":"love","user_id":"user_001",'
    '"created_at":"2019-03-02T15:00:00Z"}}',
]
# CRLF and no final newline: the bytes must arrive exactly as they are on disk.
VALID_BYTES = "\r\n".join(VALID_LINES).encode()
VALID_SHA256 = hashlib.sha256(VALID_BYTES).hexdigest()
POLICY = RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=4, max_elapsed=120.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[EmulatorHandle]:
    with running_emulator(clock=clock, step_seconds=5, seed=1) as handle:
        yield handle


@pytest.fixture
def valid_file(tmp_path: Path) -> Path:
    path = tmp_path / "my-data.jsonl"
    path.write_bytes(VALID_BYTES)
    return path


def client_for(
    handle: EmulatorHandle, clock: FakeClock, *, secret: str | None = None, key: str | None = None,
    **options: Any,
) -> StreamClient:
    """A client whose sleeps move the shared fake clock instead of waiting."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)
        await anyio.lowlevel.checkpoint()

    credentials = Credentials(key or handle.api_key, secret or handle.api_secret, handle.base_url)
    options.setdefault("policy", POLICY)
    return StreamClient(credentials, clock=clock.time, sleep=sleep, rng=random.Random(5), **options)


async def follow(client: StreamClient, clock: FakeClock, import_id: str) -> list[str]:
    """Every state seen while watching, moving emulated time along between polls."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)
        await anyio.lowlevel.checkpoint()

    seen: list[str] = []
    schedule = PollSchedule(initial=2.0, maximum=5.0)
    async with aclosing(watch_import(client, import_id, schedule=schedule, sleep=sleep)) as tasks:
        async for task in tasks:
            seen.append(task.state)
    return seen


# ------------------------------------------------------------------ the whole flow


@pytest.mark.anyio
async def test_whole_flow_uploads_the_bytes_unchanged_and_follows_the_import_to_completed(
    emulator: EmulatorHandle, clock: FakeClock, valid_file: Path
) -> None:
    async with client_for(emulator, clock) as client:
        task = await client.import_file(valid_file, "insert", merge_custom=True)
        assert task.state in ("uploaded", "queued")
        assert task.path.endswith("my-data.jsonl")
        assert task.size == len(VALID_BYTES)
        states = await follow(client, clock, task.id)
    assert states[-1] == "completed"
    assert states[0] == task.state
    stored = emulator.imports()
    assert len(stored) == 1
    assert stored[0]["sha256"] == VALID_SHA256
    assert (stored[0]["mode"], stored[0]["merge_custom"]) == ("insert", True)


@pytest.mark.anyio
async def test_merge_custom_is_not_sent_unless_asked(
    emulator: EmulatorHandle, clock: FakeClock, valid_file: Path
) -> None:
    async with client_for(emulator, clock) as client:
        await client.import_file(valid_file)
    assert emulator.imports()[0]["merge_custom"] is None
    assert emulator.imports()[0]["mode"] == "upsert"


@pytest.mark.anyio
async def test_an_invalid_file_ends_in_a_failed_state_and_the_watch_stops(
    emulator: EmulatorHandle, clock: FakeClock, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type":"user","data":{"id":"has spaces!"}}\n')
    async with client_for(emulator, clock) as client:
        task = await client.import_file(bad)
        states = await follow(client, clock, task.id)
        final = await client.get_import(task.id)
    assert "failed" in states[-1]
    assert final.outcome is Outcome.FAILED
    assert final.result  # the analysis errors are kept for printing


@pytest.mark.anyio
async def test_state_names_never_seen_before_count_as_in_progress(
    clock: FakeClock, valid_file: Path
) -> None:
    with running_emulator(clock=clock, step_seconds=5, states="novel") as emulator:
        async with client_for(emulator, clock) as client:
            task = await client.import_file(valid_file)
            states = await follow(client, clock, task.id)
    assert states[0] == "queued"
    assert "pre_processing" in states or "ingesting" in states
    assert states[-1] == "completed"


@pytest.mark.anyio
async def test_the_apps_own_roles_and_channel_types_become_validation_options(
    clock: FakeClock,
) -> None:
    with running_emulator(clock=clock, roles=("user", "pilot"),
                          channel_types={"messaging": 200, "ops": 5000}) as emulator:
        async with client_for(emulator, clock) as client:
            options = await fetch_app_options(client)
    assert {"user", "pilot"} <= options.roles
    assert options.channel_types == {"messaging": 200, "ops": 5000}


# ------------------------------------------------------------------ refusals


@pytest.mark.anyio
async def test_a_wrong_secret_or_key_is_refused_as_an_authentication_error(
    emulator: EmulatorHandle, clock: FakeClock
) -> None:
    async with client_for(emulator, clock, secret="not-the-secret-" + "x" * 32) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.list_imports()
    assert info.value.status == 401
    assert info.value.code is not None
    async with client_for(emulator, clock, key="wrong-key") as client:
        with pytest.raises(AuthenticationError):
            await client.list_roles()


@pytest.mark.anyio
async def test_unknown_import_is_not_found_and_unuploaded_path_is_refused(
    emulator: EmulatorHandle, clock: FakeClock
) -> None:
    async with client_for(emulator, clock) as client:
        with pytest.raises(NotFoundError):
            await client.get_import("00000000-0000-0000-0000-000000000000")
        target = await client.create_import_url("never-uploaded.jsonl")
        with pytest.raises(TerminalError) as info:
            await client.create_import(target.path)
    assert (info.value.status, info.value.code) == (400, 4)
    assert emulator.imports() == []


@pytest.mark.anyio
async def test_a_tampered_upload_url_is_refused_without_echoing_it(
    emulator: EmulatorHandle, clock: FakeClock, valid_file: Path
) -> None:
    async with client_for(emulator, clock) as client:
        target = await client.create_import_url(valid_file.name)
        url = httpx.URL(target.upload_url)
        forged = str(url.copy_set_param("token", "forged"))
        with pytest.raises(TerminalError) as info:
            await client.upload(forged, valid_file)
    assert "forged" not in str(info.value)
    assert emulator.stats()["requests"]["upload"] == 1  # refused for good: not retried


# ------------------------------------------------------------------ faults and retries


@pytest.mark.anyio
async def test_5xx_answers_and_dropped_connections_are_retried(
    emulator: EmulatorHandle, clock: FakeClock
) -> None:
    emulator.inject_faults("500", "503", "drop", endpoint="list_imports")
    async with client_for(emulator, clock) as client:
        assert await client.list_imports() == []
    stats = emulator.stats()
    assert stats["faults"] == 3
    assert stats["requests"]["list_imports"] == 4


@pytest.mark.anyio
async def test_retries_give_up_with_a_retryable_error(
    emulator: EmulatorHandle, clock: FakeClock
) -> None:
    emulator.inject_faults("503", "503", "503", "503", endpoint="list_roles")
    async with client_for(emulator, clock) as client:
        with pytest.raises(RetryableError) as info:
            await client.list_roles()
    assert info.value.status == 503


@pytest.mark.anyio
async def test_a_slow_answer_times_out_and_is_retried(clock: FakeClock) -> None:
    with running_emulator(clock=clock, slow_seconds=1.0) as emulator:
        emulator.inject_faults("slow", endpoint="list_roles")
        async with client_for(emulator, clock, timeout=httpx.Timeout(0.3)) as client:
            assert "user" in await client.list_roles()
        assert emulator.stats()["requests"]["list_roles"] == 2


@pytest.mark.anyio
async def test_a_failed_upload_is_sent_again_and_the_import_gets_the_whole_file(
    emulator: EmulatorHandle, clock: FakeClock, valid_file: Path
) -> None:
    emulator.inject_faults("upload")
    async with client_for(emulator, clock) as client:
        await client.import_file(valid_file)
    assert emulator.stats()["requests"]["upload"] == 2
    assert emulator.imports()[0]["sha256"] == VALID_SHA256


@pytest.mark.anyio
async def test_a_dropped_create_import_is_retried_once_and_imports_once(
    emulator: EmulatorHandle, clock: FakeClock, valid_file: Path
) -> None:
    emulator.inject_faults("drop", endpoint="create_import")
    async with client_for(emulator, clock) as client:
        task = await client.import_file(valid_file)
    assert [t["id"] for t in emulator.imports()] == [task.id]
    assert emulator.stats()["requests"]["list_imports"] >= 1  # looked before creating again


# ------------------------------------------------------------------ rate limits


@pytest.mark.anyio
async def test_a_spent_budget_waits_for_the_window_reset_instead_of_being_refused(
    clock: FakeClock,
) -> None:
    with running_emulator(clock=clock, rate_limit=2, rate_window_seconds=10) as emulator:
        started = clock.time()
        async with client_for(emulator, clock) as client:
            for _ in range(5):
                await client.list_imports()
        stats = emulator.stats()
    assert stats["rate_limited"] == 0
    assert stats["requests"]["list_imports"] == 5
    assert clock.time() - started >= 20  # two resets waited for, in emulated time


@pytest.mark.anyio
@pytest.mark.parametrize("plain_429", [False, True])
async def test_a_429_waits_until_the_reset_then_succeeds(clock: FakeClock, plain_429: bool) -> None:
    with running_emulator(clock=clock, rate_limit=1, rate_window_seconds=30,
                          plain_429=plain_429) as emulator:
        async with client_for(emulator, clock) as other, client_for(emulator, clock) as client:
            await other.list_roles()  # spends the budget behind our client's back
            before = clock.time()
            assert "user" in await client.list_roles()
        stats = emulator.stats()
    assert stats["rate_limited"] == 1
    waited = clock.time() - before
    assert 0 < waited <= 31  # until the window's reset, not a blind backoff


@pytest.mark.anyio
async def test_a_429_that_outlasts_the_attempts_is_a_rate_limited_error(clock: FakeClock) -> None:
    with running_emulator(clock=clock, rate_limit=1, rate_window_seconds=30) as emulator:
        async with client_for(emulator, clock, policy=RetryPolicy(max_attempts=1)) as client:
            await client.list_roles()  # spends the window's only request
            async with client_for(emulator, clock, policy=RetryPolicy(max_attempts=1)) as fresh:
                with pytest.raises(RateLimitedError) as info:
                    await fresh.list_roles()
    assert info.value.reset is not None
    assert info.value.reset > clock.time()
    assert info.value.reset % 30 == 0  # windows reset on whole multiples


# ------------------------------------------------------------------ listing


@pytest.mark.anyio
async def test_list_imports_pages_newest_first(
    emulator: EmulatorHandle, clock: FakeClock, valid_file: Path
) -> None:
    async with client_for(emulator, clock) as client:
        created = []
        for _ in range(5):
            created.append((await client.import_file(valid_file)).id)
            clock.advance(1)
        pages = [await client.list_imports(limit=2, offset=offset) for offset in (0, 2, 4, 6)]
    assert [len(page) for page in pages] == [2, 2, 1, 0]
    assert [task.id for page in pages for task in page] == list(reversed(created))


@pytest.mark.anyio
async def test_the_v2_path_prefix_is_served_too(emulator: EmulatorHandle, clock: FakeClock) -> None:
    credentials = Credentials(emulator.api_key, emulator.api_secret, emulator.base_url + "/api/v2")
    async with StreamClient(credentials) as client:
        assert await client.list_imports() == []


@pytest.mark.anyio
async def test_bytes_that_are_not_the_ones_validated_never_arrive_whole(
    emulator: EmulatorHandle, clock: FakeClock, valid_file: Path
) -> None:
    edited = VALID_BYTES.replace(b"Jesse", b"Jamie")  # same size, other bytes
    await anyio.Path(valid_file).write_bytes(edited)
    async with client_for(emulator, clock) as client:
        target = await client.create_import_url(valid_file.name)
        with pytest.raises(FileChangedError, match="not the bytes validated"):
            await client.upload(target.upload_url, valid_file, sha256=VALID_SHA256)
        with pytest.raises(TerminalError):  # nothing was stored under the path
            await client.create_import(target.path)
        target = await client.create_import_url(valid_file.name)
        sent = await client.upload(target.upload_url, valid_file,
                                   sha256=hashlib.sha256(edited).hexdigest())
        await client.create_import(target.path)
    assert sent == len(edited)
    assert [i["sha256"] for i in emulator.imports()] == [hashlib.sha256(edited).hexdigest()]
