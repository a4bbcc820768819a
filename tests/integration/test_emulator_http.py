"""The emulator over real loopback HTTP: Stream's routes, auth, limits, faults and test endpoints.

Time is driven with a FakeClock, never slept through.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from streamdrop.testing import EmulatorHandle, FakeClock, running_emulator

VALID = b'{"type":"user","data":{"id":"u1"}}\n{"type":"user","data":{"id":"u2"}}\n'
INVALID = b"this is not json\n"
EDITOR = b'{"type":"user","data":{"id":"u1","role":"editor"}}\n'
STEP = 5.0
RAW: httpx.Client  # a plain client (no key, no token), as an upload PUT is sent; see `raw`


@pytest.fixture(scope="module", autouse=True)
def raw() -> Iterator[httpx.Client]:
    """Made once per module: each new httpx client costs ~40 ms of TLS setup."""
    global RAW
    with httpx.Client(timeout=10) as RAW:
        yield RAW


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emu(clock: FakeClock) -> Iterator[EmulatorHandle]:
    with running_emulator(clock=clock, step_seconds=STEP) as handle:
        yield handle


def api(emu: EmulatorHandle, prefix: str = "") -> httpx.Client:
    return httpx.Client(base_url=emu.base_url + prefix, params={"api_key": emu.api_key},
                        headers=emu.auth_headers(), timeout=10)


@pytest.fixture
def client(emu: EmulatorHandle) -> Iterator[httpx.Client]:
    with api(emu) as http:
        yield http


def upload(client: httpx.Client, content: bytes, filename: str = "data.jsonl") -> dict[str, Any]:
    created = client.post("/import_urls", json={"filename": filename})
    assert created.status_code == 201
    body: dict[str, Any] = created.json()
    put = RAW.put(body["upload_url"], content=content,
                    headers={"Content-Type": "application/json"})
    assert put.status_code == 200
    return body


def create_import(client: httpx.Client, content: bytes, **extra: Any) -> dict[str, Any]:
    path = upload(client, content)["path"]
    response = client.post("/imports", json={"path": path, "mode": "upsert", **extra})
    assert response.status_code == 201
    task: dict[str, Any] = response.json()["import_task"]
    return task


def get_task(client: httpx.Client, task_id: str) -> dict[str, Any]:
    response = client.get(f"/imports/{task_id}")
    assert response.status_code == 200
    task: dict[str, Any] = response.json()["import_task"]
    return task


def assert_stream_error(response: httpx.Response, status: int, code: int) -> None:
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code
    assert body["StatusCode"] == status
    assert {"message", "duration", "more_info", "details"} <= body.keys()


# ---- auth ---------------------------------------------------------------------


def test_missing_or_wrong_api_key_is_401_code_2(emu: EmulatorHandle) -> None:
    no_key = RAW.get(emu.base_url + "/imports", headers=emu.auth_headers())
    assert_stream_error(no_key, 401, 2)
    wrong = RAW.get(emu.base_url + "/imports", params={"api_key": "nope"},
                      headers=emu.auth_headers())
    assert_stream_error(wrong, 401, 2)
    assert wrong.json()["message"].startswith('ListImports failed with error: "')
    assert "X-RateLimit-Remaining" in wrong.headers


def test_token_signed_with_another_secret_is_401_code_43(emu: EmulatorHandle) -> None:
    from streamdrop.emulator.auth import server_token

    headers = {"Authorization": server_token("not-the-secret-" * 3), "stream-auth-type": "jwt"}
    response = RAW.get(emu.base_url + "/roles", params={"api_key": emu.api_key},
                         headers=headers)
    assert_stream_error(response, 401, 43)


@pytest.mark.parametrize("variant", ["no-token", "bearer", "no-auth-type"])
def test_other_auth_mistakes_are_401_code_5(emu: EmulatorHandle, variant: str) -> None:
    headers = emu.auth_headers()
    if variant == "no-token":
        del headers["Authorization"]
    elif variant == "bearer":
        headers["Authorization"] = "Bearer " + headers["Authorization"]
    else:
        del headers["stream-auth-type"]
    response = RAW.get(emu.base_url + "/channeltypes", params={"api_key": emu.api_key},
                         headers=headers)
    assert_stream_error(response, 401, 5)


# ---- the import flow ------------------------------------------------------------


def test_full_flow_reaches_completed_with_history_size_and_hash(
    emu: EmulatorHandle, client: httpx.Client, clock: FakeClock
) -> None:
    urls = upload(client, VALID, filename="../../etc/my-data.jsonl")
    assert urls["path"].startswith("s3://stream-import/")
    assert urls["path"].endswith("/my-data.jsonl")
    assert urls["upload_url"].startswith(emu.base_url + "/upload/")
    assert "token=" in urls["upload_url"]
    assert "expires=" in urls["upload_url"]
    created = client.post("/imports", json={"path": urls["path"], "mode": "insert",
                                            "merge_custom": True})
    assert created.status_code == 201
    task = created.json()["import_task"]
    assert (task["state"], task["history"], task["size"]) == ("uploaded", [], len(VALID))
    assert task["created_at"].endswith("Z")
    assert len(task["created_at"]) == len("2022-05-16T09:02:37.991181Z")

    states = []
    for _ in range(3):
        clock.advance(STEP)
        states.append(get_task(client, task["id"])["state"])
    assert states == ["analyzing", "importing", "completed"]

    done = get_task(client, task["id"])
    assert [(h["prev_state"], h["next_state"]) for h in done["history"]] == [
        ("uploaded", "analyzing"), ("analyzing", "importing"), ("importing", "completed")]
    assert done["updated_at"] == done["history"][-1]["created_at"] != done["created_at"]
    assert done["result"]["stats"]["total"]["users"] == 2
    assert done["merge_custom"] is True
    assert emu.imports() == [{
        "id": task["id"], "api": "imports", "product": "chat", "path": urls["path"],
        "mode": "insert", "merge_custom": True, "state": "completed", "size": len(VALID),
        "sha256": hashlib.sha256(VALID).hexdigest(),
    }]


def test_routes_are_mirrored_under_api_v2(emu: EmulatorHandle, clock: FakeClock) -> None:
    with api(emu, "/api/v2") as v2:
        task = create_import(v2, VALID)
        clock.advance(3 * STEP)
        assert get_task(v2, task["id"])["state"] == "completed"
        assert v2.get("/roles").status_code == 200


def test_invalid_file_ends_in_analyze_failed_with_errors(
    client: httpx.Client, clock: FakeClock
) -> None:
    task = create_import(client, INVALID)
    clock.advance(2 * STEP)
    failed = get_task(client, task["id"])
    assert failed["state"] == "analyze_failed"
    assert failed["result"]["errors"]
    assert "error" in failed["result"]["errors"][0]
    assert "stats" in failed["result"]
    clock.advance(10 * STEP)
    assert get_task(client, task["id"])["state"] == "analyze_failed"


def test_analysis_checks_against_the_apps_own_roles(clock: FakeClock) -> None:
    with running_emulator(clock=clock, step_seconds=STEP, roles=("user", "editor")) as emu, \
            api(emu) as client:
        task = create_import(client, EDITOR)
        clock.advance(3 * STEP)
        assert get_task(client, task["id"])["state"] == "completed"
        names = [role["name"] for role in client.get("/roles").json()["roles"]]
        assert names == ["user", "editor"]


def test_default_roles_refuse_an_unknown_role(client: httpx.Client, clock: FakeClock) -> None:
    task = create_import(client, EDITOR)
    clock.advance(3 * STEP)
    assert get_task(client, task["id"])["state"] == "analyze_failed"


def test_sdk_spelling_of_states(clock: FakeClock) -> None:
    with running_emulator(clock=clock, step_seconds=STEP, states="sdk") as emu, \
            api(emu) as client:
        task = create_import(client, INVALID)
        assert task["state"] == "queued"
        clock.advance(2 * STEP)
        assert get_task(client, task["id"])["state"] == "analyzing_failed"


def test_create_import_before_upload_is_400_code_4(client: httpx.Client) -> None:
    path = client.post("/import_urls", json={"filename": "a.jsonl"}).json()["path"]
    assert_stream_error(client.post("/imports", json={"path": path, "mode": "upsert"}), 400, 4)
    unknown = client.post("/imports", json={"path": "s3://elsewhere/x", "mode": "upsert"})
    assert_stream_error(unknown, 400, 4)


@pytest.mark.parametrize("body", [{"mode": "merge"}, {"mode": "upsert", "merge_custom": "yes"},
                                  {"mode": None}])
def test_bad_create_import_bodies_are_400_code_4(client: httpx.Client,
                                                 body: dict[str, Any]) -> None:
    path = upload(client, VALID)["path"]
    assert_stream_error(client.post("/imports", json={"path": path, **body}), 400, 4)


def test_unknown_import_is_404_code_16(client: httpx.Client) -> None:
    response = client.get("/imports/00000000-0000-0000-0000-000000000000")
    assert_stream_error(response, 404, 16)
    assert response.json()["message"].startswith("GetImport failed with error:")


def test_list_is_newest_first_with_limit_and_offset(
    client: httpx.Client, clock: FakeClock
) -> None:
    ids = []
    for _ in range(12):
        ids.append(create_import(client, VALID)["id"])
        clock.advance(1)
    newest_first = list(reversed(ids))

    def listed(**params: Any) -> list[str]:
        response = client.get("/imports", params=params)
        assert response.status_code == 200
        return [task["id"] for task in response.json()["import_tasks"]]

    assert listed() == newest_first[:10]
    assert listed(limit=5, offset=0) == newest_first[:5]
    assert listed(limit=5, offset=10) == newest_first[10:]
    assert listed(limit=1000) == newest_first
    assert_stream_error(client.get("/imports", params={"limit": "many"}), 400, 4)


def test_reference_data_defaults_are_streams_builtins(client: httpx.Client) -> None:
    roles = client.get("/roles").json()
    assert {r["name"] for r in roles["roles"]} == {"user", "admin", "guest", "anonymous"}
    assert set(roles["roles"][0]) == {"name", "custom", "scopes", "created_at", "updated_at"}
    types = client.get("/channeltypes").json()
    assert set(types["channel_types"]) == {"livestream", "messaging", "team", "gaming",
                                           "commerce"}
    assert {t["max_message_length"] for t in types["channel_types"].values()} == {5000}
    assert types["channel_types"]["messaging"]["name"] == "messaging"
    assert types["duration"].endswith("ms")


def test_channel_types_can_be_overridden(clock: FakeClock) -> None:
    with running_emulator(clock=clock, channel_types={"support": 200}) as emu, \
            api(emu) as client:
        types = client.get("/channeltypes").json()["channel_types"]
        assert {name: t["max_message_length"] for name, t in types.items()} == {"support": 200}


# ---- uploads ------------------------------------------------------------------------


def test_upload_url_is_one_time(client: httpx.Client) -> None:
    url = upload(client, VALID)["upload_url"]
    again = RAW.put(url, content=VALID)
    assert again.status_code == 403
    assert "<Code>AccessDenied</Code>" in again.text


def test_tampered_or_expired_upload_urls_are_refused(
    client: httpx.Client, clock: FakeClock
) -> None:
    url = client.post("/import_urls", json={"filename": "a.jsonl"}).json()["upload_url"]
    assert RAW.put(url.replace("token=", "token=x"), content=VALID).status_code == 403
    assert RAW.put(url.replace("expires=", "expires=9"), content=VALID).status_code == 403
    clock.advance(3_601)
    assert RAW.put(url, content=VALID).status_code == 403


def test_upload_over_the_cap_is_413_and_keeps_nothing(clock: FakeClock) -> None:
    with running_emulator(clock=clock, max_upload_bytes=100) as emu, api(emu) as client:
        urls = client.post("/import_urls", json={"filename": "a.jsonl"}).json()
        too_big = RAW.put(urls["upload_url"], content=b"x" * 101)
        assert too_big.status_code == 413
        assert "EntityTooLarge" in too_big.text
        refused = client.post("/imports", json={"path": urls["path"], "mode": "upsert"})
        assert_stream_error(refused, 400, 4)
        assert RAW.put(urls["upload_url"], content=b"x" * 100).status_code == 200


def test_chunked_upload_without_length_is_411_as_s3_answers(client: httpx.Client) -> None:
    urls = client.post("/import_urls", json={"filename": "a.jsonl"}).json()
    chunked = RAW.put(urls["upload_url"], content=iter([VALID[:10], VALID[10:]]))
    assert chunked.status_code == 411
    assert "MissingContentLength" in chunked.text
    assert RAW.put(urls["upload_url"], content=VALID).status_code == 200


def test_failed_upload_answers_500_stores_nothing_and_can_be_retried(
    emu: EmulatorHandle, client: httpx.Client
) -> None:
    urls = client.post("/import_urls", json={"filename": "a.jsonl"}).json()
    emu.inject_faults("upload")
    failed = RAW.put(urls["upload_url"], content=VALID)
    assert failed.status_code == 500
    assert_stream_error(client.post("/imports", json={"path": urls["path"], "mode": "upsert"}),
                        400, 4)
    assert RAW.put(urls["upload_url"], content=VALID).status_code == 200
    assert client.post("/imports", json={"path": urls["path"], "mode": "upsert"}).status_code == 201
    assert emu.stats()["faults"] == 1


# ---- rate limits ------------------------------------------------------------------------


def test_rate_limit_gives_429_code_9_with_headers_until_the_window_ends(
    clock: FakeClock,
) -> None:
    with running_emulator(clock=clock, rate_limit=2) as emu, api(emu) as client:
        clock.advance(15)
        first, second, third = (client.get("/imports") for _ in range(3))
        assert [r.status_code for r in (first, second, third)] == [200, 200, 429]
        assert first.headers["X-RateLimit-Limit"] == "2"
        assert [r.headers["X-RateLimit-Remaining"] for r in (first, second, third)] == \
            ["1", "0", "0"]
        reset = int(third.headers["X-RateLimit-Reset"])
        assert reset % 60 == 0
        assert reset == int(clock.time()) + 45
        assert third.headers["Retry-After"] == "45"
        assert_stream_error(third, 429, 9)
        assert client.get("/roles").status_code == 200  # another endpoint, another budget
        clock.advance(45)
        assert client.get("/imports").status_code == 200
        assert emu.stats()["rate_limited"] == 1


def test_plain_text_429_as_the_edge_sends_it(clock: FakeClock) -> None:
    with running_emulator(clock=clock, rate_limit=1, plain_429=True) as emu, \
            api(emu) as client:
        client.get("/roles")
        refused = client.get("/roles")
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("text/plain")
        assert "Retry-After" in refused.headers
        assert "X-RateLimit-Reset" in refused.headers


def test_uploads_and_test_endpoints_are_not_rate_limited(clock: FakeClock) -> None:
    with running_emulator(clock=clock, rate_limit=1) as emu, api(emu) as client:
        url = client.post("/import_urls", json={"filename": "a.jsonl"}).json()["upload_url"]
        wrong = url.replace("token=", "token=x")
        statuses = {RAW.put(wrong, content=VALID).status_code for _ in range(3)}
        assert statuses == {403}
        assert RAW.put(url, content=VALID).status_code == 200
        for _ in range(3):
            emu.stats()
        assert emu.stats()["rate_limited"] == 0


def test_rate_window_length_is_configurable(clock: FakeClock) -> None:
    with running_emulator(clock=clock, rate_limit=1, rate_window_seconds=10) as emu, \
            api(emu) as client:
        clock.advance(3)
        client.get("/roles")
        refused = client.get("/roles")
        assert refused.headers["Retry-After"] == "7"
        assert int(refused.headers["X-RateLimit-Reset"]) % 10 == 0


# ---- faults and latency --------------------------------------------------------------------


def test_dropped_connection_is_seen_as_no_response(emu: EmulatorHandle,
                                                   client: httpx.Client) -> None:
    emu.inject_faults("drop", endpoint="list_roles")
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/roles")
    assert client.get("/roles").status_code == 200
    assert emu.stats()["faults"] == 1


def test_injected_500_has_code_minus_1_and_503_is_plain(emu: EmulatorHandle,
                                                        client: httpx.Client) -> None:
    emu.inject_faults("500", "503")
    assert_stream_error(client.get("/imports"), 500, -1)
    unavailable = client.get("/imports")
    assert unavailable.status_code == 503
    assert unavailable.headers["content-type"].startswith("text/plain")
    assert client.get("/imports").status_code == 200


def test_slow_answer_arrives_late(clock: FakeClock) -> None:
    with running_emulator(clock=clock, slow_seconds=0.3) as emu, api(emu) as client:
        emu.inject_faults("slow")
        started = time.perf_counter()
        assert client.get("/roles").status_code == 200
        assert time.perf_counter() - started >= 0.3


def test_seeded_fault_rate_repeats(clock: FakeClock) -> None:
    def statuses() -> list[int]:
        with running_emulator(clock=FakeClock(), fault_rate=0.5, fault_kinds=("500", "503"),
                              seed=42) as emu, api(emu) as client:
            return [client.get("/roles").status_code for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert {200, 500, 503} <= set(first)


def test_latency_delays_every_api_answer(clock: FakeClock) -> None:
    with running_emulator(clock=clock, latency_ms=150) as emu, api(emu) as client:
        started = time.perf_counter()
        client.get("/roles")
        assert time.perf_counter() - started >= 0.15


# ---- test endpoints ---------------------------------------------------------------------------


def test_stats_count_every_request_received(emu: EmulatorHandle, client: httpx.Client,
                                            clock: FakeClock) -> None:
    task = create_import(client, VALID)
    get_task(client, task["id"])
    client.get("/imports")
    client.get("/roles")
    client.get("/channeltypes")
    RAW.get(emu.base_url + "/roles")  # refused, still received
    stats = emu.stats()
    assert stats["requests"] == {
        "create_import_url": 1, "upload": 1, "create_import": 1, "get_import": 1,
        "list_imports": 1, "list_roles": 2, "list_channel_types": 1, "get_rate_limits": 0,
        "get_channel_type": 0, "create_import_v2": 0, "get_import_v2": 0,
        "list_imports_v2": 0, "cancel_import_v2": 0, "delete_import_v2": 0,
    }
    assert (stats["rate_limited"], stats["faults"]) == (0, 0)


def test_advance_endpoint_moves_time_without_a_fake_clock() -> None:
    with running_emulator(step_seconds=60) as emu, api(emu) as client:
        task = create_import(client, VALID)
        emu.advance(180)
        assert get_task(client, task["id"])["state"] == "completed"


def test_rate_limits_endpoint_reports_budgets(clock: FakeClock) -> None:
    with running_emulator(clock=clock, endpoint_limits={"GetImport": 300}) as emu, \
            api(emu) as client:
        body = client.get("/rate_limits", params={"server_side": "true",
                                                  "endpoints": "GetImport"}).json()
        assert body["server_side"]["GetImport"]["limit"] == 300
        assert body["server_side"]["GetImport"]["remaining"] == 300


def test_unknown_route_gets_streams_error_shape(client: httpx.Client) -> None:
    assert_stream_error(client.get("/no/such/route"), 404, 16)


# ---- async clients ---------------------------------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_async_client_sees_dropped_connection_and_concurrent_requests(
    emu: EmulatorHandle,
) -> None:
    import anyio

    emu.inject_faults("drop", endpoint="get_import")
    async with httpx.AsyncClient(base_url=emu.base_url, params={"api_key": emu.api_key},
                                 headers=emu.auth_headers()) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get("/imports/x")
        statuses: list[int] = []

        async def fetch() -> None:
            statuses.append((await client.get("/roles")).status_code)

        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(fetch)
        assert statuses == [200] * 20


def test_logs_never_carry_the_secret_the_jwt_or_upload_tokens(clock: FakeClock) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs, running_emulator(clock=clock) as emu, api(emu) as client:
        urls = upload(client, VALID)
        RAW.put(urls["upload_url"], content=VALID)  # refused: already used
        client.post("/imports", json={"path": urls["path"], "mode": "upsert"})
        RAW.get(emu.base_url + "/roles", params={"api_key": emu.api_key},
                headers={"Authorization": "Bearer x", "stream-auth-type": "jwt"})
        token = urls["upload_url"].split("token=")[1].split("&")[0]
        secrets = [emu.api_secret, emu.server_token(), token]
    assert logs
    text = repr(logs)
    assert not [s for s in secrets if s in text]
