"""`streamdrop run` end to end: real files, a real subprocess, the emulator over loopback."""

from __future__ import annotations

import json
import signal

import pytest
from daemon_harness import Setup, chat_file, drop, imported_sha256s, invalid_file, sha256, stop


@pytest.mark.slow
def test_modes_follow_rules_in_nested_folders(setup: Setup) -> None:
    a = drop(setup.drop, "insert/2026/11/a.jsonl", chat_file(1))
    b = drop(setup.drop, "b.jsonl", chat_file(2))
    c = drop(setup.drop, "deep/er/c.jsonl", chat_file(3))
    assert setup.run_once() == 0
    modes = {i["sha256"]: i["mode"] for i in setup.emulator.imports()}
    assert modes == {sha256(chat_file(1)): "insert", sha256(chat_file(2)): "upsert",
                     sha256(chat_file(3)): "upsert"}
    tasks = {t["file"]: t for t in setup.tasks()}
    assert {t["state"] for t in tasks.values()} == {"completed"}
    assert tasks["insert/2026/11/a.jsonl"]["mode"] == "insert"
    assert all(t["import_id"] for t in tasks.values())
    assert (setup.root / "done" / "insert/2026/11/a.jsonl").read_bytes() == chat_file(1)
    assert (setup.root / "done" / "deep/er/c.jsonl").exists()
    assert not a.exists()
    assert not b.exists()
    assert not c.exists()
    last = setup.log_events()[-1]
    assert last["event"] == "daemon.stopped"
    summary = next(e for e in setup.log_events() if e["event"] == "run.finished")
    assert summary["counts"] == {"completed": 3}


def test_invalid_file_goes_to_failed_with_a_report(setup: Setup) -> None:
    drop(setup.drop, "bad.jsonl", invalid_file())
    assert setup.run_once() == 0
    (task,) = setup.tasks()
    assert task["state"] == "invalid"
    assert setup.emulator.imports() == []
    report = json.loads((setup.root / "failed" / "bad.jsonl.report.json").read_text())
    assert report["task_id"] == task["id"]
    assert report["sha256"] == sha256(invalid_file())
    assert report["error_count"] >= 2
    assert all("line" in e and "error" in e for e in report["errors"])
    assert (setup.root / "failed" / "bad.jsonl").read_bytes() == invalid_file()


@pytest.mark.slow
def test_same_bytes_dropped_twice_import_once(setup: Setup) -> None:
    drop(setup.drop, "one.jsonl", chat_file(7))
    drop(setup.drop, "two.jsonl", chat_file(7))
    assert setup.run_once() == 0
    drop(setup.drop, "three.jsonl", chat_file(7))
    assert setup.run_once() == 0
    assert imported_sha256s(setup.emulator) == [sha256(chat_file(7))]
    tasks = setup.tasks()
    states = sorted(t["state"] for t in tasks)
    assert states == ["completed", "duplicate", "duplicate"]
    original = next(t for t in tasks if t["state"] == "completed")
    assert all(t["duplicate_of"] == original["id"] for t in tasks if t["state"] == "duplicate")
    duplicates = sorted(p.name for p in (setup.root / "duplicates").iterdir())
    assert duplicates == ["three.jsonl", "three.jsonl.report.json", "two.jsonl",
                          "two.jsonl.report.json"] or duplicates == [
        "one.jsonl", "one.jsonl.report.json", "three.jsonl", "three.jsonl.report.json"]
    for name in duplicates[1::2]:  # each beside its file, naming the earlier task
        earlier = json.loads((setup.root / "duplicates" / name).read_text())["duplicate_of"]
        assert (earlier["task_id"], earlier["file"]) == (original["id"], original["file"])
        assert earlier["found_at"]
    # dropped after the first run: by then the earlier task had its import
    late = json.loads((setup.root / "duplicates" / "three.jsonl.report.json").read_text())
    assert late["duplicate_of"]["import_id"] == original["import_id"]
    assert late["duplicate_of"]["state"] == "completed"


def test_hidden_and_partial_files_are_left_alone(setup: Setup) -> None:
    names = [".hidden.jsonl", "x.jsonl.part", "y.tmp", "z.jsonl~", ".dir/inner.jsonl"]
    for n, name in enumerate(names):
        path = setup.drop / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(chat_file(n))
    assert setup.run_once() == 0
    assert setup.tasks() == []
    assert all((setup.drop / name).exists() for name in names)


def test_symlink_leading_out_is_refused(setup: Setup) -> None:
    outside = setup.root / "outside.jsonl"
    outside.write_bytes(chat_file(1))
    (setup.drop / "link.jsonl").symlink_to(outside)
    assert setup.run_once() == 0
    assert setup.tasks() == []
    assert any(e["event"] == "drop.symlink_refused" for e in setup.log_events())


@pytest.mark.slow
def test_faults_and_failed_uploads_are_retried_to_success(setup: Setup) -> None:
    setup.emulator.inject_faults("500", "503", "upload", "500", "upload", "503")
    for n in range(3):
        drop(setup.drop, f"f{n}.jsonl", chat_file(n))
    assert setup.run_once() == 0
    assert sorted(imported_sha256s(setup.emulator)) == sorted(sha256(chat_file(n))
                                                              for n in range(3))
    assert {t["state"] for t in setup.tasks()} == {"completed"}
    assert setup.emulator.stats()["faults"] >= 6


@pytest.mark.slow
def test_unreachable_api_exits_1(setup: Setup) -> None:
    setup.sections["stream"]["base_url"] = "http://127.0.0.1:9"  # nothing listens there
    setup.sections["daemon"]["once_max_attempts"] = 2
    setup.write()
    drop(setup.drop, "a.jsonl", chat_file(1))
    assert setup.run_once(timeout=240) == 1
    (task,) = setup.tasks()
    assert task["state"] not in {"completed", "failed"}


@pytest.mark.slow
def test_sigterm_drains_then_restart_finishes(setup: Setup) -> None:
    for n in range(4):
        drop(setup.drop, f"s{n}.jsonl", chat_file(n))
    proc = setup.start()
    setup.wait_for_event("task.import_created")
    assert stop(proc, signal.SIGTERM) == 0
    events = [e["event"] for e in setup.log_events()]
    assert "daemon.draining" in events
    assert "daemon.grace_expired" not in events  # the steps in flight finished in time
    assert events[-1] == "daemon.stopped"
    assert setup.run_once() == 0
    assert sorted(imported_sha256s(setup.emulator)) == sorted(sha256(chat_file(n))
                                                              for n in range(4))


def test_second_signal_exits_at_once(setup: Setup) -> None:
    setup.emulator.inject_faults("slow", "slow", "slow")
    drop(setup.drop, "a.jsonl", chat_file(1))
    proc = setup.start()
    setup.wait_for_event("task.found")
    proc.send_signal(signal.SIGTERM)
    setup.wait_for_event("daemon.draining")
    assert stop(proc, signal.SIGTERM, timeout=5) == 128 + signal.SIGTERM
    events = [e["event"] for e in setup.log_events()]
    assert events[-1] == "daemon.exit_now"  # not the drain: no daemon.stopped after it


def test_logs_are_json_lines_without_secrets(setup: Setup) -> None:
    drop(setup.drop, "a.jsonl", chat_file(1))
    assert setup.run_once() == 0
    lines = setup.all_log_lines()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"event", "timestamp", "level"} <= set(record)
    text = "\n".join(lines)
    assert setup.emulator.api_secret not in text
    assert "eyJ" not in text  # no JWT
    assert "upload_url" not in text
    finished = [json.loads(x) for x in lines if '"task.finished"' in x]
    assert len(finished) == 1
    assert {"task_id", "file", "sha256", "mode", "import_id"} <= set(finished[0])


def test_bad_config_names_the_key_and_does_not_start(setup: Setup) -> None:
    setup.sections["drop"]["settle_seconds"] = "soon"
    setup.write()
    proc = setup.start()
    assert proc.wait(timeout=30) == 2
    assert "drop.settle_seconds" in setup.logs[-1].read_text()


def test_valid_feeds_file_goes_to_ready_without_an_upload(setup: Setup) -> None:
    feeds = (b'{"instruction":"users","data":[{"id":"u1","data":{"name":"A"}}]}\n'
             b'{"instruction":"follow","feedId":"timeline:u1","data":["user:u2"]}\n')
    drop(setup.drop, "feeds/f.jsonl", feeds)
    assert setup.run_once() == 0
    (task,) = setup.tasks()
    assert task["state"] == "ready"
    assert setup.emulator.imports() == []
    assert (setup.root / "ready" / "feeds" / "f.jsonl").read_bytes() == feeds


@pytest.mark.slow
def test_big_file_is_validated_in_a_worker_process_and_imported(setup: Setup) -> None:
    from streamdrop.service.validation_pool import PROCESS_MIN_BYTES

    users = b"".join(b'{"type":"user","data":{"id":"big_user_%07d","role":"user"}}\n' % n
                     for n in range(PROCESS_MIN_BYTES // 50))
    big = users + b'{"type":"nonsense","data":{}}\n'  # invalid: the verdict must come back
    assert len(big) >= PROCESS_MIN_BYTES
    drop(setup.drop, "big-bad.jsonl", big)
    drop(setup.drop, "big-good.jsonl", users)
    assert setup.run_once() == 0
    states = {t["file"]: t["state"] for t in setup.tasks()}
    assert states == {"big-bad.jsonl": "invalid", "big-good.jsonl": "completed"}
    report = json.loads((setup.root / "failed" / "big-bad.jsonl.report.json").read_text())
    assert report["error_count"] == 1
    assert report["errors"][0]["line"] == len(users.splitlines()) + 1
