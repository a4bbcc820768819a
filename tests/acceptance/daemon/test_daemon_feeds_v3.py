"""Feeds v3 files through the daemon: Import V2 (product feeds) end to end, Stream's failure with
its result, the old instruction format still to ready/, a SIGKILL between create and store."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Setup, chat_file, drop, sha256, wait_until

from streamdrop.emulator.config import EmulatorConfig
from streamdrop.emulator.state import Verdict
from streamdrop.testing import EmulatorHandle, running_emulator

pytestmark = pytest.mark.slow  # each runs the daemon as a subprocess: 5-10 s


def feeds_v3(n: int) -> bytes:
    """A small valid Feeds v3 file, different for every n."""
    return "\n".join(json.dumps(line) for line in [
        {"type": "user", "data": {"id": f"u{n}", "name": "Ann"}},
        {"type": "feed_group", "data": {"group_id": "user"}},
        {"type": "feed", "data": {"group_id": "user", "id": f"u{n}", "fid": f"user:u{n}",
                                  "created_by_id": f"u{n}"}},
        {"type": "activity", "data": {"id": f"a{n}", "type": "post", "user_id": f"u{n}",
                                      "fids": [f"user:u{n}"], "text": "hello"}},
    ]).encode() + b"\n"


def refusing(file: Path, config: EmulatorConfig, product: str) -> Verdict:
    """Stream's side finds what streamdrop's validator did not (an app-level conflict)."""
    return Verdict(False, [{"error": "feed group user does not exist in this app"}])


def test_a_feeds_v3_file_is_imported_through_import_v2_beside_chat_files(setup: Setup) -> None:
    feeds = feeds_v3(1)
    chat = chat_file(1)
    drop(setup.drop, "insert/feeds.jsonl", feeds)
    drop(setup.drop, "chat.jsonl", chat)
    assert setup.run_once() == 0
    by_sha = {i["sha256"]: i for i in setup.emulator.imports()}
    assert len(by_sha) == 2
    assert (by_sha[sha256(feeds)]["api"], by_sha[sha256(feeds)]["product"],
            by_sha[sha256(feeds)]["mode"]) == ("imports/v2", "feeds", "insert")
    assert by_sha[sha256(chat)]["api"] == "imports"
    tasks = {t["file"]: t for t in setup.tasks()}
    assert (tasks["insert/feeds.jsonl"]["state"], tasks["insert/feeds.jsonl"]["product"],
            tasks["insert/feeds.jsonl"]["import_state"]) == ("completed", "feeds",
                                                             "completed (3)")
    assert tasks["chat.jsonl"]["product"] is None
    assert (setup.root / "done" / "insert" / "feeds.jsonl").read_bytes() == feeds
    assert (setup.root / "done" / "chat.jsonl").read_bytes() == chat


@pytest.fixture
def refusing_emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(step_seconds=0.2, v2_validator=refusing) as handle:
        yield handle


def test_an_import_v2_task_that_fails_goes_to_failed_with_streams_result(
    tmp_path: Path, refusing_emulator: EmulatorHandle
) -> None:
    setup = Setup(tmp_path, refusing_emulator)
    drop(setup.drop, "feeds.jsonl", feeds_v3(2))
    assert setup.run_once() == 0
    (task,) = setup.tasks()
    assert (task["state"], task["import_state"]) == ("failed", "failed (4)")
    report = json.loads((setup.root / "failed" / "feeds.jsonl.report.json").read_text())
    assert report["result"]["errors"] == [{"error": "feed group user does not exist in this app"}]
    assert report["state"] == "failed (4)"


def test_an_invalid_feeds_v3_file_is_not_uploaded(setup: Setup) -> None:
    drop(setup.drop, "feeds.jsonl",
         b'{"type":"activity","data":{"id":"a1","type":"post","user_id":"u1"}}\n')
    assert setup.run_once() == 0
    (task,) = setup.tasks()
    assert task["state"] == "invalid"
    assert setup.emulator.imports() == []
    report = json.loads((setup.root / "failed" / "feeds.jsonl.report.json").read_text())
    assert any("fids" in error["error"] for error in report["errors"])


@pytest.fixture
def late_emulator() -> Iterator[EmulatorHandle]:
    # The create is carried out at once, its answer held back a minute.
    with running_emulator(step_seconds=0.2, slow_seconds=60) as handle:
        yield handle


def test_sigkill_between_create_and_store_reconciles_by_listing_import_v2(
    tmp_path: Path, late_emulator: EmulatorHandle
) -> None:
    setup = Setup(tmp_path, late_emulator)
    late_emulator.inject_faults("late", endpoint="create_import_v2")
    feeds = feeds_v3(3)
    drop(setup.drop, "feeds.jsonl", feeds)
    proc = setup.start()
    wait_until(lambda: len(late_emulator.imports()) == 1)  # Stream has it; we do not yet
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    (half,) = setup.tasks()
    assert (half["state"], half["product"], half["import_id"]) == ("uploading", "feeds", None)
    assert setup.run_once() == 0
    (stored,) = late_emulator.imports()
    assert (stored["sha256"], stored["api"]) == (sha256(feeds), "imports/v2")
    (task,) = setup.tasks()
    assert (task["state"], task["import_id"]) == ("completed", stored["id"])
    assert any(e.get("event") == "task.reconciled" and e.get("found") is True
               for e in setup.log_events())
    assert late_emulator.stats()["requests"]["create_import_v2"] == 1
    assert (setup.root / "done" / "feeds.jsonl").read_bytes() == feeds
