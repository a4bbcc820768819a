"""Import V2 in the client, on the wire (httpx.MockTransport): bodies, the GET's `{}`, states,
cursors, settings.s3 from the upload URL, reconciliation after an ambiguous create."""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from streamdrop.stream.client import ImportV2Task, StreamClient
from streamdrop.stream.credentials import Credentials
from streamdrop.stream.errors import ProtocolError, TerminalError
from streamdrop.stream.import_states import (
    Outcome,
    v2_outcome,
    v2_state_label,
    v2_state_number,
)
from streamdrop.stream.retry import RetryPolicy
from streamdrop.stream.s3_location import S3Location, s3_location

BASE = "https://chat.example.test"
CREDS = Credentials("the-key", "the-secret-" + "s" * 32, BASE)
LOCATION = S3Location("stream-import", "us-east-1", "s3://stream-import/1/a.jsonl")

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make_client(seen: list[tuple[httpx.Request, bytes]], handler: Handler) -> StreamClient:
    async def recording(request: httpx.Request) -> httpx.Response:
        seen.append((request, await request.aread()))
        return await handler(request)

    async def no_sleep(seconds: float) -> None:
        return None

    return StreamClient(CREDS, transport=httpx.MockTransport(recording), sleep=no_sleep,
                        policy=RetryPolicy(base_delay=0.01, max_delay=0.1, max_attempts=3),
                        rng=random.Random(1))


def task(task_id: str = "v2-1", state: int = 1, dir: str = LOCATION.dir,
         **extra: Any) -> dict[str, Any]:
    return {"id": task_id, "app_pk": 7, "product": "feeds", "state": state,
            "settings": {"s3": {"bucket": "stream-import", "region": "us-east-1", "dir": dir}},
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", **extra}


def ok(body: dict[str, Any], status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={**body, "duration": "0.01ms"})


# ---- states ------------------------------------------------------------------


@pytest.mark.parametrize(("number", "label", "outcome"), [
    (1, "queued (1)", Outcome.IN_PROGRESS),
    (2, "processing (2)", Outcome.IN_PROGRESS),
    (3, "completed (3)", Outcome.SUCCEEDED),
    (4, "failed (4)", Outcome.FAILED),
    (0, "unknown (0)", Outcome.IN_PROGRESS),
    (9, "unknown (9)", Outcome.IN_PROGRESS),
])
def test_v2_states_show_the_number_and_unknown_ones_are_not_final(
    number: int, label: str, outcome: Outcome
) -> None:
    assert v2_state_label(number) == label
    assert v2_outcome(number) is outcome


def test_v2_state_filters_take_names_or_numbers() -> None:
    assert [v2_state_number(t) for t in ("queued", "Processing", "3", "7")] == [1, 2, 3, 7]
    with pytest.raises(ValueError, match="1 queued"):
        v2_state_number("done")


def test_task_json_keeps_streams_fields_and_adds_the_state_name() -> None:
    parsed = ImportV2Task.from_json({**task(state=9), "duration": "1ms"})
    assert (parsed.state, parsed.state_name, parsed.terminal) == (9, None, False)
    assert parsed.dir == LOCATION.dir
    out = parsed.to_json()
    assert (out["state"], out["state_name"], out["product"]) == (9, "unknown", "feeds")
    assert "duration" not in out


@pytest.mark.parametrize("bad", [[], {"id": "x", "product": "feeds"},
                                 {"id": "x", "product": "feeds", "state": "1"},
                                 {"id": "x", "product": "feeds", "state": True},
                                 {"product": "feeds", "state": 1}])
def test_unreadable_tasks_are_protocol_errors(bad: Any) -> None:
    with pytest.raises(ProtocolError):
        ImportV2Task.from_json(bad)


# ---- settings.s3 from the upload URL ----------------------------------------------


@pytest.mark.parametrize(("url", "bucket", "region"), [
    ("https://stream-import.s3.eu-west-1.amazonaws.com/1/a.jsonl?X-Amz-Signature=s",
     "stream-import", "eu-west-1"),
    ("https://stream-import.s3.amazonaws.com/1/a.jsonl?X-Amz-Signature=s",
     "stream-import", "us-east-1"),
    ("https://b.s3.dualstack.ap-south-1.amazonaws.com/k", "b", "ap-south-1"),
    ("https://s3.us-west-2.amazonaws.com/my-bucket/1/a.jsonl", "my-bucket", "us-west-2"),
    ("https://b.s3-accelerate.amazonaws.com/k?X-Amz-Credential=AK%2F20260101%2Feu-central-1"
     "%2Fs3%2Faws4_request", "b", "eu-central-1"),
    ("http://127.0.0.1:8765/upload/slot?token=t&X-Amz-Credential=E%2F20260101%2Fus-east-1"
     "%2Fs3%2Faws4_request", "upload", "us-east-1"),
])
def test_bucket_and_region_come_from_the_upload_url(url: str, bucket: str, region: str) -> None:
    assert s3_location(url, "s3://p") == S3Location(bucket, region, "s3://p")


@pytest.mark.parametrize("url", ["https://objects.example.test/b/k?token=SECRET",
                                 "https://s3.us-west-2.amazonaws.com/"])
def test_an_upload_url_that_names_no_bucket_is_a_protocol_error_without_its_token(
    url: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        s3_location(url, "s3://p")
    assert "SECRET" not in str(caught.value)


# ---- the calls ------------------------------------------------------------------


@pytest.mark.anyio
async def test_create_sends_product_and_settings_and_only_the_options_given() -> None:
    seen: list[tuple[httpx.Request, bytes]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        return ok(task(), 201)

    async with make_client(seen, handler) as client:
        created = await client.create_import_v2("feeds", LOCATION)
        await client.create_import_v2("chat", LOCATION, skip_references_check=True,
                                      mode="insert", merge_custom=False)
    assert (created.id, created.state_label) == ("v2-1", "queued (1)")
    first, second = (json.loads(body) for _, body in seen)
    assert seen[0][0].method == "POST"
    assert seen[0][0].url.path == "/api/v2/imports/v2"
    assert first == {"product": "feeds", "settings": {
        "skip_references_check": False,
        "s3": {"bucket": "stream-import", "region": "us-east-1", "dir": LOCATION.dir}}}
    assert second["product"] == "chat"
    assert (second["settings"]["mode"], second["settings"]["merge_custom"],
            second["settings"]["skip_references_check"]) == ("insert", False, True)


@pytest.mark.anyio
async def test_create_refuses_an_unknown_product_before_sending() -> None:
    seen: list[tuple[httpx.Request, bytes]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    async with make_client(seen, handler) as client:
        with pytest.raises(ValueError, match="product"):
            await client.create_import_v2("video", LOCATION)  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_get_sends_a_json_body_as_stream_requires() -> None:
    seen: list[tuple[httpx.Request, bytes]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        return ok(task(state=3, result={"stats": {}}))

    async with make_client(seen, handler) as client:
        got = await client.get_import_v2("a/b")
    request, body = seen[0]
    assert (request.method, request.url.raw_path.split(b"?")[0]) == (
        "GET", b"/api/v2/imports/v2/a%2Fb")
    assert body == b"{}"
    assert request.headers["Content-Type"] == "application/json"
    assert (got.outcome, got.result) == (Outcome.SUCCEEDED, {"stats": {}})


@pytest.mark.anyio
async def test_an_unknown_state_is_announced() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return ok(task(state=7))

    with capture_logs() as logs:
        async with make_client([], handler) as client:
            got = await client.get_import_v2("v2-1")
    assert not got.terminal
    warning = next(entry for entry in logs if entry["event"] == "stream.unknown_import_state")
    assert (warning["state"], warning["log_level"]) == (7, "warning")


@pytest.mark.anyio
async def test_list_passes_state_and_cursor_and_reads_both_cursors() -> None:
    seen: list[tuple[httpx.Request, bytes]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        return ok({"import_tasks": [task()], "next": "n2", "prev": ""})

    async with make_client(seen, handler) as client:
        page = await client.list_imports_v2(state=2, cursor="n1", limit=5)
        await client.list_imports_v2()
    assert dict(seen[0][0].url.params) == {"api_key": "the-key", "state": "2", "next": "n1",
                                           "limit": "5"}
    assert dict(seen[1][0].url.params) == {"api_key": "the-key"}
    assert (page.next, page.prev, [t.id for t in page.tasks]) == ("n2", None, ["v2-1"])


@pytest.mark.anyio
async def test_list_without_tasks_is_a_protocol_error() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return ok({})

    async with make_client([], handler) as client:
        with pytest.raises(ProtocolError):
            await client.list_imports_v2()


@pytest.mark.anyio
async def test_cancel_and_delete_use_their_routes_and_surface_refusals() -> None:
    seen: list[tuple[httpx.Request, bytes]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(400, json={"code": 4, "message": "only queued",
                                             "StatusCode": 400})
        return ok({}, 201)

    async with make_client(seen, handler) as client:
        await client.cancel_import_v2("v2-1")
        with pytest.raises(TerminalError, match="only queued"):
            await client.delete_import_v2("v2-1")
    assert [(r.method, r.url.path) for r, _ in seen] == [
        ("POST", "/api/v2/imports/v2/v2-1/cancel"), ("DELETE", "/api/v2/imports/v2/v2-1")]


@pytest.mark.anyio
async def test_an_ambiguous_create_is_reconciled_by_listing_before_creating_again() -> None:
    created: list[dict[str, Any]] = []
    seen: list[tuple[httpx.Request, bytes]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            dir = json.loads(await request.aread())["settings"]["s3"]["dir"]
            created.append(task("made", dir=dir))
            raise httpx.ReadTimeout("the answer was lost")  # but Stream did create it
        if "next" not in request.url.params:  # the first page holds another task only
            return ok({"import_tasks": [task("other", dir="s3://elsewhere")], "next": "p2"})
        return ok({"import_tasks": list(created)})

    async with make_client(seen, handler) as client:
        found = await client.create_import_v2("feeds", LOCATION)
    assert found.id == "made"
    assert len(created) == 1
    assert [r.method for r, _ in seen] == ["POST", "GET", "GET"]


@pytest.mark.anyio
async def test_find_stops_at_the_last_page() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return ok({"import_tasks": [task("other", dir="s3://elsewhere")]})

    async with make_client([], handler) as client:
        assert await client.find_import_v2(LOCATION.dir) is None


@pytest.mark.parametrize("status", [400, 404])
@pytest.mark.anyio
async def test_an_id_the_chat_api_does_not_take_is_asked_of_import_v2(status: int) -> None:
    from streamdrop.stream.follow import get_any_import

    seen: list[tuple[httpx.Request, bytes]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v2/imports/v2/"):
            return ok(task("v2-1", state=2))
        return httpx.Response(status, json={"code": 4 if status == 400 else 16,
                                            "message": "no", "StatusCode": status})

    async with make_client(seen, handler) as client:
        found = await get_any_import(client, "v2-1")
    assert isinstance(found, ImportV2Task)
    assert [r.url.path for r, _ in seen] == ["/imports/v2-1", "/api/v2/imports/v2/v2-1"]


@pytest.mark.anyio
async def test_a_refused_credential_is_not_retried_on_import_v2() -> None:
    from streamdrop.stream.errors import AuthenticationError
    from streamdrop.stream.follow import get_any_import

    seen: list[tuple[httpx.Request, bytes]] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": 43, "message": "bad token", "StatusCode": 401})

    async with make_client(seen, handler) as client:
        with pytest.raises(AuthenticationError):
            await get_any_import(client, "x")
    assert len(seen) == 1
