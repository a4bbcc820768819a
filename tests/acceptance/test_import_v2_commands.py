"""The import commands with Import V2, as subprocesses against `streamdrop emulator`: the API
picked from the file's format, tasks of either kind followed, listed and cancelled."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from test_import_commands import VALID, Emulator, start_emulator, streamdrop

FEEDS_V3 = "\n".join([
    '{"type":"user","data":{"id":"u1"}}',
    '{"type":"feed_group","data":{"group_id":"user"}}',
    '{"type":"feed","data":{"group_id":"user","id":"u1","fid":"user:u1","created_by_id":"u1"}}',
    '{"type":"activity","data":{"id":"a1","type":"post","user_id":"u1","fids":["user:u1"]}}',
]) + "\n"
FEEDS_INSTRUCTIONS = '{"instruction":"add_activities","feedId":"user:1","data":[]}\n'

@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    yield from start_emulator(tmp_path_factory.mktemp("emulator"), "--step-seconds", "0.2")


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """Imports stay queued for ten minutes: time to cancel them."""
    yield from start_emulator(tmp_path_factory.mktemp("slow"), "--step-seconds", "600")


def write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


def create_v2_task(emulator: Emulator, content: bytes, product: str = "chat") -> dict[str, Any]:
    """An Import V2 task made over plain HTTP, as another client would make it."""
    token = jwt.encode({"server": True}, emulator.secret, algorithm="HS256")
    with httpx.Client(base_url=emulator.url + "/api/v2", params={"api_key": emulator.key},
                      headers={"Authorization": token, "stream-auth-type": "jwt"}) as http:
        urls = http.post("/import_urls", json={"filename": "x.jsonl"}).json()
        assert httpx.put(urls["upload_url"], content=content).status_code == 200
        parts = urlsplit(urls["upload_url"])
        s3 = {"bucket": parts.path.split("/")[1], "dir": urls["path"],
              "region": parse_qs(parts.query)["X-Amz-Credential"][0].split("/")[2]}
        task: dict[str, Any] = http.post("/imports/v2", json={
            "product": product, "settings": {"s3": s3}}).json()
    return task


def test_a_chat_file_goes_to_the_classic_api_and_prints_its_product(
    emulator: Emulator, tmp_path: Path
) -> None:
    result = streamdrop("upload-import", str(write(tmp_path, "chat.jsonl", VALID)),
                        "--skip-references-check", env=emulator.env())
    assert result.returncode == 0, result.stderr
    task = json.loads(result.stdout)
    assert (task["product"], task["mode"]) == ("chat", "upsert")
    stored = next(t for t in emulator.imports() if t["id"] == task["id"])
    assert stored["api"] == "imports"


def test_a_feeds_v3_file_goes_to_import_v2_as_product_feeds(
    emulator: Emulator, tmp_path: Path
) -> None:
    result = streamdrop("upload-import", str(write(tmp_path, "feeds.jsonl", FEEDS_V3)),
                        "--skip-references-check", env=emulator.env())
    assert result.returncode == 0, result.stderr
    task = json.loads(result.stdout)
    assert (task["product"], task["state"], task["state_name"]) == ("feeds", 1, "queued")
    stored = next(t for t in emulator.imports() if t["id"] == task["id"])
    assert (stored["api"], stored["skip_references_check"]) == ("imports/v2", True)
    watch = streamdrop("get-import", task["id"], "--watch", "--interval", "0.1",
                       env=emulator.env())
    assert watch.returncode == 0, watch.stderr
    assert f"{task['id']}: completed (3)" in watch.stderr


def test_a_feeds_v3_file_opening_with_many_users_still_goes_to_import_v2(
    emulator: Emulator, tmp_path: Path
) -> None:
    users = "".join(f'{{"type":"user","data":{{"id":"early{n}"}}}}\n' for n in range(3000))
    assert len(users) > 64 * 1024  # past the first look at the file's head
    path = write(tmp_path, "feeds-late.jsonl", users + FEEDS_V3)
    result = streamdrop("upload-import", str(path), "--skip-references-check",
                        env=emulator.env())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["product"] == "feeds"


def test_a_feeds_instruction_file_is_refused_without_an_upload(
    emulator: Emulator, tmp_path: Path
) -> None:
    before = len(emulator.imports())
    result = streamdrop("upload-import", str(write(tmp_path, "old.jsonl", FEEDS_INSTRUCTIONS)),
                        env=emulator.env())
    assert result.returncode == 1
    assert "instruction format" in result.stderr
    assert len(emulator.imports()) == before


def test_get_import_watches_an_import_v2_task_to_completed_with_numbered_states(
    emulator: Emulator
) -> None:
    task = create_v2_task(emulator, VALID.encode())
    watch = streamdrop("get-import", task["id"], "--watch", "--interval", "0.1",
                       env=emulator.env())
    assert watch.returncode == 0, watch.stderr
    done = json.loads(watch.stdout)
    assert (done["state"], done["state_name"], done["product"]) == (3, "completed", "chat")
    assert f"{task['id']}: completed (3)" in watch.stderr
    once = streamdrop("get-import", task["id"], env=emulator.env())
    assert json.loads(once.stdout)["id"] == task["id"]


def test_a_failed_import_v2_task_ends_the_watch_with_exit_1(emulator: Emulator) -> None:
    task = create_v2_task(emulator, b'{"type":"user","data":{"id":"has spaces!"}}\n')
    watch = streamdrop("get-import", task["id"], "--watch", "--interval", "0.1",
                       env=emulator.env())
    assert watch.returncode == 1
    assert json.loads(watch.stdout)["result"]["errors"]


@pytest.mark.slow
def test_list_imports_shows_both_kinds_and_filters_by_product(
    emulator: Emulator, tmp_path: Path
) -> None:
    upload = streamdrop("upload-import", str(write(tmp_path, "c.jsonl", VALID)),
                        env=emulator.env())
    classic = json.loads(upload.stdout)["id"]
    chat_v2 = create_v2_task(emulator, VALID.encode())["id"]
    feeds_v2 = create_v2_task(emulator, FEEDS_V3.encode(), product="feeds")["id"]
    listed = json.loads(streamdrop("list-imports", "--limit", "100", env=emulator.env()).stdout)
    by_id = {task["id"]: task["product"] for task in listed}
    assert (by_id[classic], by_id[chat_v2], by_id[feeds_v2]) == ("chat", "chat", "feeds")
    assert [t["id"] for t in listed][:3] == [feeds_v2, chat_v2, classic]  # newest first
    feeds = json.loads(streamdrop("list-imports", "--product", "feeds", "--limit", "100",
                                  env=emulator.env()).stdout)
    assert {t["product"] for t in feeds} == {"feeds"}
    assert feeds_v2 in {t["id"] for t in feeds}
    chat = json.loads(streamdrop("list-imports", "--product", "chat", "--limit", "100",
                                 env=emulator.env()).stdout)
    assert {classic, chat_v2} <= {t["id"] for t in chat}
    assert feeds_v2 not in {t["id"] for t in chat}


def test_list_imports_pages_import_v2_by_cursor(emulator: Emulator) -> None:
    for _ in range(3):
        create_v2_task(emulator, VALID.encode())
    first = streamdrop("list-imports", "--product", "chat", "--limit", "2", env=emulator.env())
    assert "--cursor " in first.stderr
    cursor = first.stderr.split("--cursor ", 1)[1].split()[0]
    rest = streamdrop("list-imports", "--cursor", cursor, "--limit", "2", env=emulator.env())
    assert rest.returncode == 0, rest.stderr
    first_ids = {t["id"] for t in json.loads(first.stdout) if t.get("app_pk")}
    rest_ids = {t["id"] for t in json.loads(rest.stdout)}
    assert rest_ids
    assert not first_ids & rest_ids


@pytest.mark.slow
def test_cancel_import_stops_a_queued_task_and_refuses_what_cannot_be(
    slow_app: Emulator, tmp_path: Path
) -> None:
    task = create_v2_task(slow_app, VALID.encode())
    cancelled = streamdrop("cancel-import", task["id"], env=slow_app.env())
    assert cancelled.returncode == 0, cancelled.stderr
    shown = json.loads(cancelled.stdout)
    assert (shown["state"], shown["state_name"]) == (4, "failed")
    assert shown["result"]["errors"][0]["error"] == "the import was cancelled"
    again = streamdrop("cancel-import", task["id"], env=slow_app.env())
    assert again.returncode == 1
    assert "only a queued or processing" in again.stderr
    upload = streamdrop("upload-import", str(write(tmp_path, "c.jsonl", VALID)),
                        env=slow_app.env())
    classic = streamdrop("cancel-import", json.loads(upload.stdout)["id"], env=slow_app.env())
    assert classic.returncode == 1
    assert "cannot be cancelled" in classic.stderr


def test_list_imports_by_import_v2_state_by_name_or_number(slow_app: Emulator) -> None:
    queued = create_v2_task(slow_app, VALID.encode())["id"]
    by_name = json.loads(streamdrop("list-imports", "--state", "queued", "--limit", "100",
                                    env=slow_app.env()).stdout)
    assert queued in {t["id"] for t in by_name}
    assert {(t["state"], t["product"]) for t in by_name} <= {(1, "chat"), (1, "feeds")}
    completed = streamdrop("list-imports", "--state", "3", env=slow_app.env())
    assert json.loads(completed.stdout) == []
    bad = streamdrop("list-imports", "--state", "done", env=slow_app.env())
    assert bad.returncode == 2
    assert "1 queued" in bad.stderr
