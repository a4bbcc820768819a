"""Rate limits, operator commands, pauses and notifications, through the real daemon."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from daemon_harness import Setup, chat_file, drop, imported_sha256s, invalid_file, sha256
from tests.webhook import Receiver

from streamdrop.testing import EmulatorHandle, running_emulator


@pytest.mark.slow
def test_tight_rate_limit_gets_no_429(tmp_path: Path) -> None:
    with running_emulator(step_seconds=0.2, rate_limit=4, rate_window_seconds=2) as emulator:
        setup = Setup(tmp_path, emulator)
        for n in range(5):
            drop(setup.drop, f"r{n}.jsonl", chat_file(n))
        assert setup.run_once(timeout=120) == 0
        assert len(imported_sha256s(emulator)) == 5
        assert emulator.stats()["rate_limited"] == 0


@pytest.mark.slow
def test_pause_skip_retry_resume(setup: Setup) -> None:
    assert setup.command("db", "upgrade").returncode == 0  # ops commands create no database
    assert setup.command("pause", "default").returncode == 0
    drop(setup.drop, "a.jsonl", chat_file(1))
    assert setup.run_once() == 1  # the target is paused: this run cannot finish
    (task,) = setup.tasks()
    assert task["state"] == "pending"
    status = json.loads(setup.command("status", "--json").stdout)
    assert status["paused"] == ["default"]
    assert status["oldest_unfinished"]["id"] == task["id"]
    assert setup.command("skip", str(task["id"])).returncode == 0
    assert setup.tasks()[0]["state"] == "skipped"
    skipped = setup.root / "skipped" / "a.jsonl"  # out of the drop folder, with its report
    assert not (setup.drop / "a.jsonl").exists() and skipped.read_bytes() == chat_file(1)
    report = json.loads((setup.root / "skipped" / "a.jsonl.report.json").read_text())
    assert (report["task_id"], report["state"]) == (task["id"], "skipped")
    assert setup.command("retry", str(task["id"])).returncode == 0
    assert setup.command("resume", "default").returncode == 0
    assert setup.run_once() == 0
    shown = json.loads(setup.command("show", str(task["id"]), "--json").stdout)
    assert shown["state"] == "completed"
    assert [e["to"] for e in shown["events"]] == [
        "pending", "skipped", "pending", "validating", "uploading", "importing", "completed"]
    assert imported_sha256s(setup.emulator) == [sha256(chat_file(1))]
    assert not skipped.exists() and not skipped.with_name("a.jsonl.report.json").exists()


@pytest.mark.slow
def test_on_failure_pause_holds_later_files(setup: Setup) -> None:
    setup.sections["stream"]["max_active_imports"] = 1
    setup.rules = [{"glob": "**", "mode": "upsert", "on_failure": "pause"}]
    setup.write()
    drop(setup.drop, "1-bad.jsonl", invalid_file())
    assert setup.run_once() == 0 or True  # may or may not have found the 2nd file yet
    drop(setup.drop, "2-good.jsonl", chat_file(2))
    assert setup.run_once() == 1
    states = {t["file"]: t["state"] for t in setup.tasks()}
    assert states == {"1-bad.jsonl": "invalid", "2-good.jsonl": "pending"}
    assert setup.command("resume", "default").returncode == 0
    assert setup.run_once() == 0
    assert {t["file"]: t["state"] for t in setup.tasks()}["2-good.jsonl"] == "completed"


@pytest.mark.slow
def test_outcomes_are_notified_to_a_json_webhook(setup: Setup, webhook: str,
                                                 emulator: EmulatorHandle) -> None:
    setup.rules = [{"glob": "**", "mode": "upsert", "notify": [webhook]}]
    setup.write()
    drop(setup.drop, "good.jsonl", chat_file(1))
    drop(setup.drop, "bad.jsonl", invalid_file())
    assert setup.run_once() == 0
    payloads = Receiver.received  # the fields arrive as JSON, beside title, message and type
    assert sorted(p["event"] for p in payloads) == ["imported", "invalid"]
    imported = next(p for p in payloads if p["event"] == "imported")
    assert imported["file"] == "good.jsonl"
    assert imported["import_id"] and imported["type"] == "success"
    assert imported["stats"]["users"] >= 1  # validation's counts, kept through the import
    assert imported["title"].startswith("imported good.jsonl: ")
    assert f"import id: {imported['import_id']}" in imported["message"]
    assert imported["report"] == str(setup.root / "done" / "good.jsonl.report.json")
    invalid = next(p for p in payloads if p["event"] == "invalid")
    assert invalid["type"] == "failure" and invalid["title"].startswith("rejected bad.jsonl: ")
    assert invalid["first_errors"] and "line" in invalid["first_errors"][0]
