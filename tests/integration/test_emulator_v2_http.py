"""The emulator's Import V2 routes and the SDK findings, over real loopback HTTP.

Time is a FakeClock moved by the tests; states are Stream's integers
(1 queued, 2 processing, 3 completed, 4 failed: streamdrop's guess).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from streamdrop.testing import EmulatorHandle, FakeClock, running_emulator

CHAT = b'{"type":"user","data":{"id":"u1"}}\n{"type":"user","data":{"id":"u2"}}\n'
CHAT_INVALID = b'{"type":"user","data":{"id":"u1","role":"editor"}}\n'
FEEDS_V3 = b"\n".join([
    b'{"type":"user","data":{"id":"u1","name":"Ann"}}',
    b'{"type":"feed_group","data":{"group_id":"user"}}',
    b'{"type":"feed","data":{"group_id":"user","id":"u1","fid":"user:u1","created_by_id":"u1"}}',
    b'{"type":"activity","data":{"id":"a1","type":"post","user_id":"u1","fids":["user:u1"]}}',
]) + b"\n"
FEEDS_V3_INVALID = b'{"type":"activity","data":{"id":"a1","type":"post","user_id":"u1"}}\n'
STEP = 5.0
QUEUED, PROCESSING, COMPLETED, FAILED = 1, 2, 3, 4

@pytest.fixture(scope="module")
def raw() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[EmulatorHandle]:
    with running_emulator(clock=clock, step_seconds=STEP) as handle:
        yield handle


@pytest.fixture
def client(emu: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url + "/api/v2", params={"api_key": emu.api_key},
                      headers=emu.auth_headers(), timeout=10) as http:
        yield http


def upload(client: httpx.Client, raw: httpx.Client, content: bytes) -> dict[str, str]:
    urls: dict[str, str] = client.post("/import_urls", json={"filename": "data.jsonl"}).json()
    assert raw.put(urls["upload_url"], content=content).status_code == 200
    return urls


def settings_for(urls: dict[str, str], **extra: Any) -> dict[str, Any]:
    """What a client derives: path-style bucket, region from the URL's credential."""
    parts = urlsplit(urls["upload_url"])
    region = parse_qs(parts.query)["X-Amz-Credential"][0].split("/")[2]
    bucket = parts.path.strip("/").split("/")[0]
    return {"s3": {"bucket": bucket, "region": region, "dir": urls["path"]}, **extra}


def create(client: httpx.Client, raw: httpx.Client, content: bytes, product: str = "chat",
           **settings: Any) -> dict[str, Any]:
    urls = upload(client, raw, content)
    response = client.post("/imports/v2", json={"product": product,
                                                "settings": settings_for(urls, **settings)})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def get(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.request("GET", f"/imports/v2/{task_id}", content=b"{}",
                              headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_refused(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["StatusCode"] == status


def test_task_moves_queued_processing_completed_on_the_step_clock(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    task = create(client, raw, CHAT, skip_references_check=True, mode="upsert")
    assert (task["state"], task["product"], task["app_pk"]) == (QUEUED, "chat", 1000001)
    assert task["settings"]["skip_references_check"] is True
    assert task["settings"]["mode"] == "upsert"
    assert "result" not in task
    assert task["duration"].endswith("ms")
    states = []
    for _ in range(3):
        clock.advance(STEP)
        states.append(get(client, task["id"])["state"])
    assert states == [PROCESSING, COMPLETED, COMPLETED]
    done = get(client, task["id"])
    assert done["result"]["stats"]["total"]["users"] == 2
    assert done["updated_at"] != done["created_at"]


def test_get_without_a_json_body_is_refused_as_stream_does(
    client: httpx.Client, raw: httpx.Client
) -> None:
    task = create(client, raw, CHAT)
    assert_refused(client.get(f"/imports/v2/{task['id']}"), 400, 4)


def test_an_invalid_chat_file_fails_with_its_errors(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    task = create(client, raw, CHAT_INVALID)
    clock.advance(2 * STEP)
    failed = get(client, task["id"])
    assert failed["state"] == FAILED
    assert "editor" in failed["result"]["errors"][0]["error"]


def test_a_feeds_v3_file_is_checked_as_feeds_and_completes(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    task = create(client, raw, FEEDS_V3, product="feeds")
    clock.advance(2 * STEP)
    assert get(client, task["id"])["state"] == COMPLETED


def test_an_invalid_feeds_v3_file_fails_with_errors_in_result(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    task = create(client, raw, FEEDS_V3_INVALID, product="feeds")
    clock.advance(2 * STEP)
    failed = get(client, task["id"])
    assert failed["state"] == FAILED
    assert any("fids" in error["error"] for error in failed["result"]["errors"])


def test_a_chat_file_sent_as_feeds_fails(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    task = create(client, raw, b'{"type":"channel","data":{"id":"c1","type":"messaging"}}\n',
                  product="feeds")
    clock.advance(2 * STEP)
    failed = get(client, task["id"])
    assert failed["state"] == FAILED
    assert failed["result"]["errors"]


@pytest.mark.parametrize("body", [
    {"settings": {}},
    {"product": "video", "settings": {}},
    {"product": "feeds"},
    {"product": "feeds", "settings": {"s3": {"bucket": "upload", "region": "us-east-1"}}},
    {"product": "feeds", "settings": {"skip_references_check": "yes", "s3": {}}},
    {"product": "feeds", "settings": {"mode": "merge", "s3": {}}},
])
def test_bad_create_bodies_are_400_code_4(client: httpx.Client, body: dict[str, Any]) -> None:
    assert_refused(client.post("/imports/v2", json=body), 400, 4)


def test_create_for_a_path_never_uploaded_or_another_bucket_is_refused(
    client: httpx.Client, raw: httpx.Client
) -> None:
    urls = upload(client, raw, CHAT)
    settings = settings_for(urls)
    missing = {"s3": {**settings["s3"], "dir": settings["s3"]["dir"] + "-not"}}
    assert_refused(client.post("/imports/v2", json={"product": "chat", "settings": missing}),
                   400, 4)
    elsewhere = {"s3": {**settings["s3"], "bucket": "someone-elses"}}
    assert_refused(client.post("/imports/v2", json={"product": "chat", "settings": elsewhere}),
                   400, 4)


def test_list_is_newest_first_filters_by_state_and_pages_by_cursor(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    old = create(client, raw, CHAT)
    clock.advance(2 * STEP)  # the first completes
    ids = [create(client, raw, CHAT)["id"] for _ in range(4)]
    first = client.get("/imports/v2", params={"limit": 2}).json()
    assert [t["id"] for t in first["import_tasks"]] == ids[::-1][:2]
    assert "prev" not in first
    second = client.get("/imports/v2", params={"limit": 2, "next": first["next"]}).json()
    assert [t["id"] for t in second["import_tasks"]] == ids[::-1][2:4]
    third = client.get("/imports/v2", params={"limit": 2, "next": second["next"]}).json()
    assert [t["id"] for t in third["import_tasks"]] == [old["id"]]
    assert "next" not in third
    back = client.get("/imports/v2", params={"limit": 2, "next": third["prev"]}).json()
    assert back["import_tasks"] == second["import_tasks"]
    completed = client.get("/imports/v2", params={"state": COMPLETED}).json()["import_tasks"]
    assert [t["id"] for t in completed] == [old["id"]]
    assert completed[0]["result"]["stats"]["total"]["users"] == 2
    queued = client.get("/imports/v2", params={"state": QUEUED}).json()["import_tasks"]
    assert len(queued) == 4


@pytest.mark.parametrize("params", [{"next": "not-a-cursor"}, {"state": "x"}, {"limit": "0"}])
def test_bad_list_parameters_are_400(client: httpx.Client, params: dict[str, str]) -> None:
    assert_refused(client.get("/imports/v2", params=params), 400, 4)


def test_cancel_a_queued_task_fails_it_at_once(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    task = create(client, raw, CHAT)
    response = client.post(f"/imports/v2/{task['id']}/cancel")
    assert response.status_code == 201
    assert response.json()["duration"].endswith("ms")
    cancelled = get(client, task["id"])
    assert cancelled["state"] == FAILED
    assert cancelled["result"]["errors"][0]["error"] == "the import was cancelled"
    clock.advance(3 * STEP)
    assert get(client, task["id"])["state"] == FAILED
    assert_refused(client.post(f"/imports/v2/{task['id']}/cancel"), 400, 4)


def test_cancel_while_processing_stops_on_the_next_tick(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    task = create(client, raw, CHAT)
    clock.advance(STEP * 1.5)  # processing, half way to its end
    assert client.post(f"/imports/v2/{task['id']}/cancel").status_code == 201
    assert get(client, task["id"])["state"] == PROCESSING
    clock.advance(STEP * 0.5)
    assert get(client, task["id"])["state"] == FAILED


def test_a_completed_task_cannot_be_cancelled_or_deleted(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    task = create(client, raw, CHAT)
    clock.advance(2 * STEP)
    assert get(client, task["id"])["state"] == COMPLETED
    assert_refused(client.post(f"/imports/v2/{task['id']}/cancel"), 400, 4)
    assert_refused(client.delete(f"/imports/v2/{task['id']}"), 400, 4)


def test_delete_only_a_queued_task(
    client: httpx.Client, raw: httpx.Client, clock: FakeClock
) -> None:
    queued = create(client, raw, CHAT)
    processing = create(client, raw, CHAT)
    clock.advance(STEP)
    assert_refused(client.delete(f"/imports/v2/{processing['id']}"), 400, 4)
    later = create(client, raw, CHAT)
    response = client.delete(f"/imports/v2/{later['id']}")
    assert response.status_code == 200
    assert_refused(client.request("GET", f"/imports/v2/{later['id']}", content=b"{}"), 404, 16)
    listed = [t["id"] for t in client.get("/imports/v2").json()["import_tasks"]]
    assert listed == [processing["id"], queued["id"]]


def test_unknown_v2_task_is_404_code_16(client: httpx.Client) -> None:
    assert_refused(client.request("GET", "/imports/v2/nope", content=b"{}"), 404, 16)
    assert_refused(client.post("/imports/v2/nope/cancel"), 404, 16)
    assert_refused(client.delete("/imports/v2/nope"), 404, 16)


def test_v2_routes_answer_without_the_prefix_too_and_do_not_shadow_classic_ones(
    emu: EmulatorHandle, raw: httpx.Client
) -> None:
    with httpx.Client(base_url=emu.base_url, params={"api_key": emu.api_key},
                      headers=emu.auth_headers(), timeout=10) as bare:
        task = create(bare, raw, CHAT)
        assert get(bare, task["id"])["id"] == task["id"]
        assert bare.get("/imports").json()["import_tasks"] == []
        assert bare.get("/imports/v2").json()["import_tasks"][0]["id"] == task["id"]


def test_test_endpoint_lists_both_apis_with_their_product(
    emu: EmulatorHandle, client: httpx.Client, raw: httpx.Client
) -> None:
    urls = upload(client, raw, CHAT)
    classic = client.post("/imports", json={"path": urls["path"], "mode": "insert"}).json()
    feeds = create(client, raw, FEEDS_V3, product="feeds", skip_references_check=True)
    items = emu.imports()
    assert [(i["id"], i["api"], i["product"]) for i in items] == [
        (classic["import_task"]["id"], "imports", "chat"), (feeds["id"], "imports/v2", "feeds")]
    assert items[1]["state"] == QUEUED
    assert items[1]["skip_references_check"] is True
    assert items[1]["size"] == len(FEEDS_V3)


def test_v2_requests_need_streams_auth(emu: EmulatorHandle, raw: httpx.Client) -> None:
    response = raw.get(emu.base_url + "/api/v2/imports/v2", params={"api_key": emu.api_key})
    assert_refused(response, 401, 5)


# ---- the SDK findings -------------------------------------------------------


def test_get_channel_type_by_name(client: httpx.Client) -> None:
    body = client.get("/channeltypes/messaging").json()
    assert body["name"] == "messaging"
    assert body["max_message_length"] == 5000
    assert body["duration"].endswith("ms")
    assert_refused(client.get("/channeltypes/nope"), 404, 16)


def test_get_channel_type_has_its_own_budget(clock: FakeClock) -> None:
    with running_emulator(clock=clock, endpoint_limits={"GetChannelType": 1}) as emu, \
            httpx.Client(base_url=emu.base_url, params={"api_key": emu.api_key},
                         headers=emu.auth_headers(), timeout=10) as http:
        assert http.get("/channeltypes/team").headers["X-RateLimit-Limit"] == "1"
        assert http.get("/channeltypes/team").status_code == 429
        assert http.get("/channeltypes").status_code == 200


def test_rate_limits_without_flags_cover_every_platform(client: httpx.Client) -> None:
    client.get("/roles")
    body = client.get("/rate_limits").json()
    assert set(body) - {"duration"} == {"server_side", "android", "ios", "web"}
    for platform in ("server_side", "android", "ios", "web"):
        assert {"CreateImport", "GetImport", "GetImportV2Task", "ListChannelTypes"} <= set(
            body[platform])
    roles = body["server_side"]["ListRoles"]
    assert roles["remaining"] == roles["limit"] - 1
    assert body["android"]["ListRoles"]["remaining"] == roles["limit"]


@pytest.mark.parametrize(("flags", "platforms"), [
    ({"server_side": "true"}, {"server_side"}),
    ({"android": "true", "web": "true"}, {"android", "web"}),
    ({"ios": "true", "endpoints": "GetImport"}, {"ios"}),
])
def test_rate_limits_by_the_flags_the_sdks_send(
    client: httpx.Client, flags: dict[str, str], platforms: set[str]
) -> None:
    body = client.get("/rate_limits", params=flags).json()
    assert set(body) - {"duration"} == platforms
    if "endpoints" in flags:
        assert set(body["ios"]) == {"GetImport"}
