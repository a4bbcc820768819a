"""Outages are outages: Stream unreachable or refusing our credentials is retried and said
in one line, never a traceback, never a file failed for it; `--once` gives up in time."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from daemon_harness import Setup, chat_file, drop, sha256, stop, wait_until

from streamdrop.testing import running_emulator


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def no_tracebacks(setup: Setup) -> None:
    lines = setup.all_log_lines()
    assert all(line.startswith("{") for line in lines)
    text = "\n".join(lines)
    assert "Traceback" not in text
    assert "ExceptionGroup" not in text
    assert "TaskGroup" not in text


@pytest.mark.slow
def test_stream_stopped_and_restarted(tmp_path: Path) -> None:
    port = free_port()
    with running_emulator(port=port, step_seconds=0.2) as first:
        setup = Setup(tmp_path, first)
        proc = setup.start()
        try:
            drop(setup.drop, "a.jsonl", chat_file(1))
            wait_until(lambda: [i["state"] for i in first.imports()] == ["completed"])
            wait_until(lambda: any(t["state"] == "completed" for t in setup.tasks()))
        except BaseException:
            proc.kill()
            raise
    try:  # Stream is gone
        drop(setup.drop, "b.jsonl", chat_file(2))
        setup.wait_for_event("task.retry_later")
        retry = next(e for e in setup.log_events() if e["event"] == "task.retry_later")
        assert f"connection refused to 127.0.0.1:{port}" in retry["error"]
        assert retry["level"] == "warning"
        attempts = [e for e in setup.log_events() if e["event"] == "stream.retry"]
        assert all(f"127.0.0.1:{port}" in e["detail"] for e in attempts)
        b = next(t for t in setup.tasks() if t["file"] == "b.jsonl")
        shown = json.loads(setup.command("show", str(b["id"]), "--json").stdout)
        back = [e for e in shown["events"] if e["to"] == "pending" and e["from"]]
        assert back[0]["from"] == "validating"  # given back: no step runs it meanwhile
        assert f"connection refused to 127.0.0.1:{port}" in back[0]["detail"]
        with running_emulator(port=port, step_seconds=0.2) as second:  # Stream is back
            wait_until(lambda: [i["sha256"] for i in second.imports()] == [sha256(chat_file(2))],
                       timeout=60)
            wait_until(lambda: {t["state"] for t in setup.tasks()} == {"completed"}, timeout=30)
            assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not list((tmp_path / "failed").glob("*")) if (tmp_path / "failed").exists() else True
    no_tracebacks(setup)


@pytest.mark.slow
def test_refused_credentials_hold_the_target_not_the_file(setup: Setup) -> None:
    setup.sections["stream"]["api_secret"] = "not-the-secret"
    setup.sections["metrics"] = {"port": free_port()}
    setup.write()
    drop(setup.drop, "a.jsonl", chat_file(1))
    proc = setup.start()
    try:
        setup.wait_for_event("target.credentials_refused")
        wait_until(lambda: setup.tasks()[0]["state"] == "pending")
        time.sleep(1.5)  # more tries meanwhile would log more lines: there must be none
        (task,) = setup.tasks()
        assert "credentials refused by Stream (401)" in task["error"]
        assert task["next_attempt_at"] is not None  # `show` says when it is tried again
        assert "next_attempt_at" in setup.command("show", str(task["id"])).stdout
        refusals = [e for e in setup.log_events() if e["event"] == "target.credentials_refused"]
        assert len(refusals) == 1
        assert refusals[0]["level"] == "error"
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not (setup.root / "failed").exists() or not list((setup.root / "failed").iterdir())
    assert (setup.drop / "a.jsonl").exists()
    assert setup.emulator.imports() == []
    no_tracebacks(setup)
    assert "not-the-secret" not in "\n".join(setup.all_log_lines())


@pytest.mark.slow
@pytest.mark.parametrize("cause", ["unreachable", "refused"])
def test_once_gives_up_in_time_naming_the_tasks_left(setup: Setup, cause: str) -> None:
    give_up = 3
    if cause == "refused":
        setup.sections["stream"]["api_secret"] = "not-the-secret"
    else:
        setup.sections["stream"]["base_url"] = f"http://127.0.0.1:{free_port()}"
    setup.sections["daemon"]["once_give_up_seconds"] = give_up
    setup.write()
    drop(setup.drop, "a.jsonl", chat_file(1))
    started = time.monotonic()
    assert setup.run_once(timeout=120) == 1
    took = time.monotonic() - started
    print(f"--once gave up ({cause}) after {took:.1f} s with once_give_up_seconds={give_up}")
    assert took < give_up + 8  # start-up, the give-up clock and the exit
    events = setup.log_events()
    gave_up = next(e for e in events if e["event"] == "run.gave_up")
    assert gave_up["left"][0].startswith("task 1 a.jsonl")
    assert gave_up["targets"]["default"]
    summary = next(e for e in events if e["event"] == "run.finished")
    assert summary["unfinished"] == [1]
    # Giving up allows no grace: no warning that a grace period ran out.
    assert "daemon.grace_expired" not in {e["event"] for e in events}
    no_tracebacks(setup)
    assert json.loads(setup.command("tasks", "--json").stdout)[0]["state"] == "pending"
