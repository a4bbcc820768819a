"""Stream's official Python SDK (`stream-chat` from PyPI), a client nobody here wrote, drives the
emulator over real loopback HTTP through the whole chat import flow and the reference calls.

The SDK is synchronous; emulated time is a FakeClock moved by the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from stream_chat import StreamChat
from stream_chat.base.exceptions import StreamAPIException

from streamdrop.testing import EmulatorHandle, FakeClock, running_emulator

VALID = b"\n".join([
    b'{"type":"user","data":{"id":"u1","role":"user"}}',
    b'{"type":"channel","data":{"id":"c1","type":"messaging","created_by":"u1"}}',
    b'{"type":"message","data":{"id":"m1","channel_type":"messaging","channel_id":"c1",'
    b'"user":"u1","text":"hello"}}',
]) + b"\n"
STEP = 5.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[EmulatorHandle]:
    with running_emulator(clock=clock, step_seconds=STEP, roles=("user", "admin", "editor"),
                          endpoint_limits={"GetImport": 300}) as handle:
        yield handle


@pytest.fixture
def sdk(emulator: EmulatorHandle) -> StreamChat:
    return StreamChat(emulator.api_key, emulator.api_secret, base_url=emulator.base_url)


def uploaded_path(sdk: StreamChat, name: str = "data.jsonl") -> str:
    """The SDK's documented flow: create_import_url, then PUT the bytes to the upload URL."""
    urls = sdk.create_import_url(name)
    put = requests.put(urls["upload_url"], data=VALID,
                       headers={"Content-Type": "application/json"}, timeout=10)
    assert put.status_code == 200
    path: str = urls["path"]
    assert path.endswith("/" + name)
    return path


def test_the_sdk_imports_a_file_in_both_modes_and_follows_it_to_completed(
    sdk: StreamChat, emulator: EmulatorHandle, clock: FakeClock
) -> None:
    tasks: dict[str, Any] = {}
    for mode in ("upsert", "insert"):
        created = sdk.create_import(uploaded_path(sdk, f"{mode}.jsonl"), mode)
        assert created.status_code() == 201
        tasks[mode] = created["import_task"]
        assert (tasks[mode]["mode"], tasks[mode]["state"]) == (mode, "uploaded")
    seen = []
    for _ in range(3):
        clock.advance(STEP)
        seen.append(sdk.get_import(tasks["insert"]["id"])["import_task"]["state"])
    assert seen == ["analyzing", "importing", "completed"]
    done = sdk.get_import(tasks["upsert"]["id"])
    assert done["import_task"]["result"]["stats"]["total"]["users"] == 1
    limits = done.rate_limit()  # the SDK reads Stream's X-RateLimit-* headers
    assert limits is not None
    assert (limits.limit, limits.remaining) == (300, 300 - 4)
    assert {t["mode"] for t in emulator.imports()} == {"upsert", "insert"}


def test_the_sdk_lists_imports_with_paging(sdk: StreamChat) -> None:
    ids = [sdk.create_import(uploaded_path(sdk, f"{n}.jsonl"))["import_task"]["id"]
           for n in range(3)]
    first = sdk.list_imports({"limit": 2, "offset": 0})["import_tasks"]
    second = sdk.list_imports({"limit": 2, "offset": 2})["import_tasks"]
    assert [t["id"] for t in first + second] == ids[::-1]
    assert [t["id"] for t in sdk.list_imports()["import_tasks"]] == ids[::-1]


def test_the_sdk_reads_roles_and_channel_types_also_by_name(sdk: StreamChat) -> None:
    roles = {role["name"]: role for role in sdk.list_roles()["roles"]}
    assert set(roles) == {"user", "admin", "editor"}
    assert (roles["editor"]["custom"], roles["user"]["custom"]) == (True, False)
    types = sdk.list_channel_types()["channel_types"]
    assert types["messaging"]["max_message_length"] == 5000
    one = sdk.get_channel_type("messaging")
    assert (one["name"], one["max_message_length"]) == ("messaging", 5000)
    with pytest.raises(StreamAPIException) as caught:
        sdk.get_channel_type("no-such-type")
    assert (caught.value.status_code, caught.value.error_code) == (404, 16)


def test_the_sdk_reads_rate_limits_for_every_platform_and_by_its_flags(sdk: StreamChat) -> None:
    everything = sdk.get_rate_limits()
    assert {"server_side", "android", "ios", "web"} <= set(everything)
    assert everything["server_side"]["GetImport"]["limit"] == 300
    narrowed = sdk.get_rate_limits(server_side=True, endpoints=["GetImport", "CreateImport"])
    assert set(narrowed) - {"duration"} == {"server_side"}
    assert set(narrowed["server_side"]) == {"GetImport", "CreateImport"}
    web = sdk.get_rate_limits(web=True, ios=True)
    assert set(web) - {"duration"} == {"web", "ios"}


def test_a_wrong_secret_is_refused_with_streams_code(emulator: EmulatorHandle) -> None:
    wrong = StreamChat(emulator.api_key, "not-the-secret-of-this-app-" + "x" * 16,
                       base_url=emulator.base_url)
    with pytest.raises(StreamAPIException) as caught:
        wrong.list_roles()
    assert (caught.value.status_code, caught.value.error_code) == (401, 43)
    with pytest.raises(StreamAPIException) as unknown_key:
        StreamChat("another-key", emulator.api_secret, base_url=emulator.base_url).list_imports()
    assert (unknown_key.value.status_code, unknown_key.value.error_code) == (401, 2)


def test_the_sdk_drives_import_v2_through_its_generic_calls(
    sdk: StreamChat, emulator: EmulatorHandle, clock: FakeClock
) -> None:
    """stream-chat 4.33 has no Import V2 methods; its generic post/delete reach the routes."""
    path = uploaded_path(sdk)
    s3 = {"bucket": "upload", "region": "us-east-1", "dir": path}
    created = sdk.post("api/v2/imports/v2", data={"product": "chat", "settings": {"s3": s3}})
    assert (created["product"], created["state"]) == ("chat", 1)
    listed = sdk.get("api/v2/imports/v2", params={"state": 1})
    assert [t["id"] for t in listed["import_tasks"]] == [created["id"]]
    sdk.delete(f"api/v2/imports/v2/{created['id']}")
    assert sdk.get("api/v2/imports/v2")["import_tasks"] == []
    assert not [t for t in emulator.imports() if t["api"] == "imports/v2"]
