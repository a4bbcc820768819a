"""The client on the wire, against httpx.MockTransport: auth, bodies, statuses, retries, budget."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from structlog.testing import capture_logs

from streamdrop.stream.client import (
    ImportTask,
    StreamClient,
    _file_chunks,
    fetch_app_options,
    server_token,
)
from streamdrop.stream.credentials import Credentials
from streamdrop.stream.errors import (
    AuthenticationError,
    FileChangedError,
    NotFoundError,
    ProtocolError,
    RateLimitedError,
    RetryableError,
    TerminalError,
)
from streamdrop.stream.import_states import Outcome
from streamdrop.stream.retry import RetryPolicy

BASE = "https://chat.example.test"
UPLOAD_URL = "https://bucket.example.test/upload/1?token=SECRET-TOKEN&expires=99"
SECRET = "the-secret-" + "s" * 32  # long enough that PyJWT does not warn on decode
CREDS = Credentials("the-key", SECRET, BASE)
NOW = 1_700_000_000.0

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class World:
    """A fake clock whose sleeps advance it, and the requests seen."""

    def __init__(self) -> None:
        self.now = NOW
        self.slept: list[float] = []
        self.requests: list[httpx.Request] = []
        self.bodies: list[bytes] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def make_client(world: World, handler: Handler, **policy: Any) -> StreamClient:
    async def recording(request: httpx.Request) -> httpx.Response:
        world.requests.append(request)
        world.bodies.append(await request.aread())
        return await handler(request)

    return StreamClient(
        CREDS,
        transport=httpx.MockTransport(recording),
        policy=RetryPolicy(base_delay=0.1, max_delay=1.0, max_attempts=policy.get("attempts", 4)),
        clock=world.clock,
        sleep=world.sleep,
        rng=random.Random(1),
    )


def task_json(task_id: str = "t-1", state: str = "uploaded", path: str = "s3://x/a.jsonl",
              **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "state": state, "path": path, "mode": "upsert", "history": [],
            "created_at": "2024-01-01T00:00:00.000000Z", "updated_at": "2024-01-01T00:00:00Z",
            "result": None, "size": 10, **extra}


def ok(body: dict[str, Any], status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, json={**body, "duration": "0.01ms"}, headers=headers)


def stream_error(status: int, code: int, message: str, **extra: Any) -> httpx.Response:
    return httpx.Response(status, json={"code": code, "message": message, "StatusCode": status,
                                        "duration": "0.00ms", "more_info": "", "details": [],
                                        **extra})


# ------------------------------------------------------------------ auth and headers


@pytest.mark.anyio
async def test_api_requests_carry_key_raw_server_jwt_and_client_header() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return ok({"roles": [{"name": "admin"}, {"name": "user"}]})

    async with make_client(world, handler) as client:
        assert await client.list_roles() == frozenset({"admin", "user"})
    request = world.requests[0]
    assert request.url.path == "/roles"
    assert request.url.params["api_key"] == "the-key"
    token = request.headers["Authorization"]
    assert not token.startswith("Bearer")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == {"server": True}
    assert request.headers["stream-auth-type"] == "jwt"
    assert request.headers["X-Stream-Client"] == "streamdrop-0.1.0"


def test_server_token_is_exactly_the_sdk_token_and_short_secrets_do_not_warn() -> None:
    assert jwt.decode(server_token(SECRET), SECRET, algorithms=["HS256"]) == {"server": True}
    assert server_token("short")  # warnings are errors here: this proves it is silent


# ------------------------------------------------------------------ calls and bodies


@pytest.mark.anyio
async def test_create_import_url_sends_the_filename_and_hides_the_upload_url() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return ok({"upload_url": UPLOAD_URL, "path": "s3://b/1/a.jsonl"}, 201)

    async with make_client(world, handler) as client:
        target = await client.create_import_url("a.jsonl")
    assert (world.requests[0].method, world.requests[0].url.path) == ("POST", "/import_urls")
    assert json.loads(world.bodies[0]) == {"filename": "a.jsonl"}
    assert world.requests[0].headers["Content-Type"] == "application/json"
    assert target.path == "s3://b/1/a.jsonl"
    assert target.upload_url == UPLOAD_URL
    assert "SECRET-TOKEN" not in repr(target)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("merge_custom", "body"),
    [(None, {"path": "s3://p", "mode": "insert"}),
     (False, {"path": "s3://p", "mode": "insert", "merge_custom": False}),
     (True, {"path": "s3://p", "mode": "insert", "merge_custom": True})],
)
async def test_create_import_sends_merge_custom_only_when_set(
    merge_custom: bool | None, body: dict[str, Any]
) -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return ok({"import_task": task_json(path="s3://p")}, 201)

    async with make_client(world, handler) as client:
        task = await client.create_import("s3://p", "insert", merge_custom)
    assert json.loads(world.bodies[0]) == body
    assert task.path == "s3://p"


@pytest.mark.anyio
async def test_create_import_refuses_an_unknown_mode_before_sending() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    async with make_client(world, handler) as client:
        with pytest.raises(ValueError, match="mode"):
            await client.create_import("s3://p", "overwrite")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_get_import_escapes_the_id_and_returns_a_typed_task() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return ok({"import_task": task_json("a/b", "importing", extra_field=1)})

    async with make_client(world, handler) as client:
        task = await client.get_import("a/b")
    assert world.requests[0].url.raw_path.startswith(b"/imports/a%2Fb?")
    assert (task.id, task.state, task.outcome, task.terminal) == \
        ("a/b", "importing", Outcome.IN_PROGRESS, False)
    assert task.to_json()["extra_field"] == 1  # the raw object is kept for printing


@pytest.mark.anyio
async def test_list_imports_sends_limit_and_offset() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return ok({"import_tasks": [task_json("2"), task_json("1")]})

    async with make_client(world, handler) as client:
        tasks = await client.list_imports(limit=2, offset=4)
    params = world.requests[0].url.params
    assert (params["limit"], params["offset"]) == ("2", "4")
    assert [t.id for t in tasks] == ["2", "1"]


@pytest.mark.anyio
async def test_fetch_app_options_uses_the_apps_roles_and_channel_types() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/roles":
            return ok({"roles": [{"name": "user", "custom": False}, {"name": "pilot"}]})
        return ok({"channel_types": {"messaging": {"name": "messaging",
                                                   "max_message_length": 2000},
                                     "odd": {"name": "odd"}}})

    async with make_client(world, handler) as client:
        options = await fetch_app_options(client)
    assert options.roles == frozenset({"user", "pilot"})
    assert options.channel_types == {"messaging": 2000, "odd": 5000}


@pytest.mark.anyio
async def test_a_success_body_that_is_not_json_is_a_protocol_error() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>gateway</html>")

    async with make_client(world, handler) as client:
        with pytest.raises(ProtocolError):
            await client.list_roles()


# ------------------------------------------------------------------ the upload


class ChunkRecordingTransport(httpx.AsyncBaseTransport):
    """Reads the request body as a server would, chunk by chunk (MockTransport reads it whole)."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        async for chunk in request.stream:
            self.chunks.append(chunk)
        return httpx.Response(200)


@pytest.mark.anyio
async def test_upload_streams_the_file_unchanged_in_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streamdrop.stream.client.UPLOAD_CHUNK_SIZE", 1024)
    data = bytes(range(256)) * 41 + b"\r\n\x00tail"  # binary, CRLF: must arrive byte for byte
    path = tmp_path / "data.jsonl"
    path.write_bytes(data)
    transport = ChunkRecordingTransport()
    async with StreamClient(CREDS, transport=transport) as client:
        sent = await client.upload(UPLOAD_URL, path)
    assert sent == len(data)
    assert b"".join(transport.chunks) == data
    assert max(map(len, transport.chunks)) <= 1024  # never the whole file at once
    assert len(transport.chunks) == 11


@pytest.mark.anyio
async def test_upload_headers_have_length_and_json_type_and_no_stream_auth(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"{}\n")
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    async with make_client(world, handler) as client:
        await client.upload(UPLOAD_URL, path)
    request = world.requests[0]
    assert request.method == "PUT"
    assert str(request.url) == UPLOAD_URL
    assert request.headers["Content-Length"] == "3"
    assert request.headers["Content-Type"] == "application/json"
    assert "Transfer-Encoding" not in request.headers
    assert "Authorization" not in request.headers
    assert "api_key" not in request.url.params
    assert world.bodies[0] == b"{}\n"


@pytest.mark.anyio
async def test_a_refused_upload_is_an_error_that_does_not_echo_the_url(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"{}\n")
    world = World()
    xml = (b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
           b"<URL>" + UPLOAD_URL.encode() + b"</URL></Error>")

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, content=xml)

    async with make_client(world, handler) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.upload(UPLOAD_URL, path)
    assert "AccessDenied" in str(info.value)
    assert "SECRET-TOKEN" not in str(info.value)
    assert len(world.requests) == 1


@pytest.mark.anyio
async def test_an_upload_that_fails_with_5xx_is_sent_again_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"x" * 5000)
    world = World()
    answers = iter([httpx.Response(503), httpx.Response(200)])

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    async with make_client(world, handler) as client:
        await client.upload(UPLOAD_URL, path)
    assert world.bodies == [b"x" * 5000, b"x" * 5000]


@pytest.mark.anyio
async def test_a_file_that_changes_size_during_upload_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"0123456789")
    with pytest.raises(FileChangedError, match="grew"):
        async for _ in _file_chunks(path, 5):
            pass
    with pytest.raises(FileChangedError, match="shrank"):
        async for _ in _file_chunks(path, 20):
            pass


class GrowingFileTransport(httpx.AsyncBaseTransport):
    """Appends to the file being uploaded once the first chunk has been sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        async for _ in request.stream:
            with self.path.open("ab") as file:
                file.write(b"more")
        return httpx.Response(200)


@pytest.mark.anyio
async def test_a_file_growing_during_the_upload_fails_it_without_retrying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streamdrop.stream.client.UPLOAD_CHUNK_SIZE", 4)
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"0123456789")
    transport = GrowingFileTransport(path)
    async with StreamClient(CREDS, transport=transport) as client:
        with pytest.raises(FileChangedError, match="grew"):
            await client.upload(UPLOAD_URL, path)
    assert transport.requests == 1


# ------------------------------------------------------------------ errors and retries


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [(400, 4, TerminalError), (401, 43, AuthenticationError), (403, 17, AuthenticationError),
     (404, 16, NotFoundError), (413, 22, TerminalError)],
)
async def test_4xx_are_terminal_with_streams_code_and_message(
    status: int, code: int, error_class: type[TerminalError]
) -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return stream_error(status, code, 'GetImport failed with error: "nope"')

    async with make_client(world, handler) as client:
        with pytest.raises(error_class) as info:
            await client.get_import("x")
    assert (info.value.status, info.value.code) == (status, code)
    assert 'GetImport failed with error: "nope"' in info.value.message
    assert len(world.requests) == 1  # never retried


@pytest.mark.anyio
async def test_5xx_is_retried_with_jittered_backoff_then_succeeds() -> None:
    world = World()
    answers = iter([stream_error(500, -1, "boom"), httpx.Response(502, text="Bad Gateway"),
                    ok({"roles": []})])

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    with capture_logs() as logs:
        async with make_client(world, handler) as client:
            assert await client.list_roles() == frozenset()
    assert len(world.requests) == 3
    assert len(world.slept) == 2
    assert 0 <= world.slept[0] <= 0.1
    assert 0 <= world.slept[1] <= 0.2
    assert [entry["event"] for entry in logs].count("stream.retry") == 2


@pytest.mark.anyio
async def test_5xx_marked_unrecoverable_is_not_retried() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return stream_error(500, -1, "broken for good", unrecoverable=True)

    async with make_client(world, handler) as client:
        with pytest.raises(TerminalError):
            await client.list_roles()
    assert len(world.requests) == 1


@pytest.mark.anyio
async def test_retries_stop_after_max_attempts_with_a_retryable_error() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="unavailable")

    async with make_client(world, handler, attempts=3) as client:
        with pytest.raises(RetryableError, match="unavailable") as info:
            await client.list_roles()
    assert info.value.status == 503
    assert len(world.requests) == 3


@pytest.mark.anyio
@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                 httpx.RemoteProtocolError("dropped")])
async def test_transport_failures_are_retried(exc: Exception) -> None:
    world = World()
    calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise exc
        return ok({"roles": []})

    async with make_client(world, handler) as client:
        await client.list_roles()
    assert calls == 2


@pytest.mark.anyio
async def test_plain_text_429_waits_for_the_reset_then_succeeds() -> None:
    world = World()
    reset = int(NOW) + 30
    answers = iter([
        httpx.Response(429, text="Too Many Requests",
                       headers={"X-RateLimit-Limit": "60, 60", "X-RateLimit-Remaining": "0",
                                "X-RateLimit-Reset": f"{reset}, {reset}"}),
        ok({"import_task": task_json()}),
    ])

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    async with make_client(world, handler) as client:
        task = await client.get_import("t-1")
    assert task.id == "t-1"
    assert len(world.requests) == 2
    assert 30.0 <= sum(world.slept) <= 31.0  # until the reset, not a blind backoff


@pytest.mark.anyio
async def test_429_without_headers_uses_retry_after() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, text="slow down", headers={"Retry-After": "7"})

    async with make_client(world, handler, attempts=1) as client:
        with pytest.raises(RateLimitedError) as info:
            await client.list_roles()
    assert info.value.reset == pytest.approx(NOW + 7)
    assert info.value.message.endswith("slow down")


@pytest.mark.anyio
async def test_429_json_body_is_read() -> None:
    world = World()

    async def handler(request: httpx.Request) -> httpx.Response:
        response = stream_error(429, 9, "Too many requests, check response headers")
        response.headers["X-RateLimit-Reset"] = str(int(NOW) + 5)
        return response

    async with make_client(world, handler, attempts=1) as client:
        with pytest.raises(RateLimitedError) as info:
            await client.list_roles()
    assert (info.value.code, info.value.reset) == (9, NOW + 5)


@pytest.mark.anyio
async def test_a_spent_budget_waits_for_the_reset_instead_of_being_refused() -> None:
    world = World()
    reset = int(NOW) + 20

    async def handler(request: httpx.Request) -> httpx.Response:
        remaining = "0" if world.now < reset else "59"
        new_reset = reset if world.now < reset else reset + 60
        return ok({"import_task": task_json(), "import_tasks": []},
                  **{"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": remaining,
                     "X-RateLimit-Reset": str(new_reset)})

    async with make_client(world, handler) as client:
        await client.get_import("t-1")
        assert world.slept == []
        await client.get_import("t-1")  # the budget is spent: wait, then send
        await client.list_imports()  # another endpoint: its own budget
    assert len(world.requests) == 3
    assert world.slept == [pytest.approx(20.25)]


@pytest.mark.anyio
async def test_create_import_after_an_ambiguous_failure_finds_the_task_instead_of_creating_again(
) -> None:
    world = World()
    created: list[dict[str, Any]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            created.append(task_json("new", path=json.loads(await request.aread())["path"]))
            raise httpx.ReadTimeout("the answer was lost")  # but Stream did create it
        return ok({"import_tasks": list(reversed(created))})

    with capture_logs() as logs:
        async with make_client(world, handler) as client:
            task = await client.create_import("s3://b/1/a.jsonl")
    assert task.id == "new"
    assert len(created) == 1  # created once, not twice
    assert any(entry["event"] == "stream.import_reconciled" for entry in logs)


@pytest.mark.anyio
async def test_create_import_retries_when_the_first_attempt_did_nothing() -> None:
    world = World()
    posts = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal posts
        if request.method == "GET":
            return ok({"import_tasks": []})
        posts += 1
        if posts == 1:
            return stream_error(503, -1, "try later")
        return ok({"import_task": task_json("second")}, 201)

    async with make_client(world, handler) as client:
        task = await client.create_import("s3://b/1/a.jsonl")
    assert (task.id, posts) == ("second", 2)


# ------------------------------------------------------------------ secrets stay out of logs


@pytest.mark.anyio
async def test_no_secret_jwt_or_upload_url_in_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"{}\n")
    world = World()
    answers = iter([ok({"upload_url": UPLOAD_URL, "path": "s3://b/a.jsonl"}, 201),
                    httpx.Response(500), httpx.Response(200),
                    ok({"import_task": task_json()}, 201)])

    async def handler(request: httpx.Request) -> httpx.Response:
        return next(answers)

    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        async with make_client(world, handler) as client:
            await client.import_file(path)
    text = repr(logs) + caplog.text
    for secret in (SECRET, server_token(SECRET), "SECRET-TOKEN", UPLOAD_URL):
        assert secret not in text
    assert any(entry.get("to") == "https://bucket.example.test" for entry in logs)
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING


def test_import_task_needs_an_id_and_a_state() -> None:
    with pytest.raises(ProtocolError):
        ImportTask.from_json({"state": "uploaded"})
    with pytest.raises(ProtocolError):
        ImportTask.from_json(None)
