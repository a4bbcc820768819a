"""Files over the target's max_import_bytes: split, imported part after part as one batch."""

from __future__ import annotations

import itertools
import json
import random
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from bench.generate import ChatFile
from daemon_harness import Setup, chat_file, drop, imported_sha256s, sha256

from streamdrop.emulator.app import streamdrop_validator
from streamdrop.emulator.config import EmulatorConfig
from streamdrop.emulator.state import Verdict
from streamdrop.testing import EmulatorHandle, running_emulator

MAX_IMPORT_BYTES = 40_000
POISON = "poison-pill-message"


def big_chat_file(target_bytes: int = 150_000, poison: bool = False) -> bytes:
    """A valid chat JSON Lines file of several parts' worth (threads, distinct channels)."""
    lines = []
    for kind, item in ChatFile(target_bytes, seed=11).items():
        body = item
        if poison and kind == "message" and item["id"] == "message-000000300":
            body = {**item, "text": POISON}
        lines.append(orjson.dumps({"type": kind, "data": body}))
    return b"\n".join(lines) + b"\n"


def poison_validator(file: Path, config: EmulatorConfig) -> Verdict:
    """Stream's analysis failing any file holding the poison message (a part, here)."""
    if POISON.encode() in file.read_bytes():
        return Verdict(False, [{"error": "analysis refused the poison message"}])
    return streamdrop_validator(file, config)


def batch_setup(root: Path, emulator: EmulatorHandle, **rule: Any) -> Setup:
    setup = Setup(root, emulator)
    setup.sections["stream"]["max_import_bytes"] = MAX_IMPORT_BYTES
    setup.rules = [{"glob": "**", "mode": "upsert", **rule}]
    setup.write()
    return setup


def show(setup: Setup, task_id: int) -> dict[str, Any]:
    result = setup.command("show", str(task_id), "--json")
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def events_at(setup: Setup, task_id: int, to_state: str) -> list[str]:
    return [e["at"] for e in show(setup, task_id)["events"] if e["to"] == to_state]


@pytest.fixture
def poison_emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(step_seconds=0.2, validator=poison_validator) as handle:
        yield handle


@pytest.mark.slow
def test_a_file_over_the_cap_is_imported_as_parts_in_order(setup: Setup) -> None:
    setup = batch_setup(setup.root, setup.emulator)
    # Stream's one import at a time per app: with more, a later file may start while the
    # big one is still being validated and split (the storage contract tests parts
    # waiting for each other with several slots).
    setup.sections["stream"]["max_active_imports"] = 1
    setup.write()
    data = big_chat_file()
    drop(setup.drop, "a-first.jsonl", chat_file(1))
    drop(setup.drop, "b-big.jsonl", data)
    time.sleep(0.05)  # the file after the batch is found later: it must not overtake it
    drop(setup.drop, "c-after.jsonl", chat_file(2))
    assert setup.run_once(timeout=120) == 0
    tasks = {t["file"]: t for t in setup.tasks()}
    parent = tasks["b-big.jsonl"]
    assert parent["state"] == "completed"
    shown = show(setup, parent["id"])
    parts = shown["parts"]
    assert len(parts) >= 4
    assert [p["part"] for p in parts] == list(range(1, len(parts) + 1))
    assert all(p["state"] == "completed" and p["import_id"] for p in parts)
    # Stream got each part once, in order, each after the one before had completed.
    part_shas = [tasks[f"b-big.jsonl#part-{n:04d}"]["sha256"] for n in range(1, len(parts) + 1)]
    imported = imported_sha256s(setup.emulator)
    assert [s for s in imported if s in part_shas] == part_shas
    assert all(p["size"] <= MAX_IMPORT_BYTES for p in parts)
    for before, after in itertools.pairwise(parts):
        assert events_at(setup, before["task_id"], "completed")[0] <= \
            events_at(setup, after["task_id"], "validating")[0]
    # The batch kept the file's place in the drop order.
    assert imported.index(part_shas[-1]) < imported.index(sha256(chat_file(2)))
    # The original goes to done/ whole, with a report of its parts; the parts are gone.
    assert (setup.root / "done" / "b-big.jsonl").read_bytes() == data
    report = json.loads((setup.root / "done" / "b-big.jsonl.report.json").read_text())
    assert report["state"] == "completed"
    assert [p["import_id"] for p in report["parts"]] == [p["import_id"] for p in parts]
    assert not any((setup.root / "work").iterdir())


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_imports_every_part_once(tmp_path: Path) -> None:
    with running_emulator(step_seconds=0.3, latency_ms=60) as emulator:
        setup = batch_setup(tmp_path, emulator)
        data = big_chat_file(200_000)
        drop(setup.drop, "big.jsonl", data)
        rng = random.Random(99)
        for _ in range(6):
            proc = setup.start()
            time.sleep(rng.uniform(0.5, 1.8))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        assert setup.run_once(timeout=180) == 0
        tasks = setup.tasks()
        parts = [t for t in tasks if "#part-" in t["file"]]
        assert len(parts) >= 5
        assert {t["state"] for t in tasks} == {"completed"}
        assert Counter(imported_sha256s(emulator)) == Counter({t["sha256"]: 1 for t in parts})
        assert (setup.root / "done" / "big.jsonl").read_bytes() == data


@pytest.mark.slow
def test_a_failing_part_holds_the_rest_of_its_batch(tmp_path: Path,
                                                    poison_emulator: EmulatorHandle) -> None:
    setup = batch_setup(tmp_path, poison_emulator)
    drop(setup.drop, "big.jsonl", big_chat_file(poison=True))
    drop(setup.drop, "z-later.jsonl", chat_file(5))
    assert setup.run_once(timeout=120) == 1  # the batch cannot finish
    tasks = {t["file"]: t for t in setup.tasks()}
    parent = tasks["big.jsonl"]
    assert parent["state"] == "batched"
    states = [p["state"] for p in show(setup, parent["id"])["parts"]]
    failed = states.index("failed")
    assert failed > 0 and states[:failed] == ["completed"] * failed
    assert set(states[failed + 1:]) == {"pending"}
    assert tasks["z-later.jsonl"]["state"] == "completed"  # on_failure = continue
    assert (setup.drop / "big.jsonl").exists()  # the original waits for its batch


@pytest.mark.slow
def test_split_false_refuses_a_file_over_the_cap(setup: Setup) -> None:
    setup = batch_setup(setup.root, setup.emulator, split=False)
    drop(setup.drop, "big.jsonl", big_chat_file(60_000))
    assert setup.run_once(timeout=60) == 0
    (task,) = setup.tasks()
    assert task["state"] == "invalid"
    assert setup.emulator.imports() == []
    report = json.loads((setup.root / "failed" / "big.jsonl.report.json").read_text())
    assert "more than the 40,000 bytes" in report["errors"][0]["error"]


@pytest.mark.slow
def test_retrying_a_completed_batch_imports_every_part_again(setup: Setup) -> None:
    setup = batch_setup(setup.root, setup.emulator)
    data = big_chat_file(90_000)
    drop(setup.drop, "big.jsonl", data)
    assert setup.run_once(timeout=120) == 0
    parent = next(t for t in setup.tasks() if t["file"] == "big.jsonl")
    assert parent["state"] == "completed"
    parts = show(setup, parent["id"])["parts"]
    first_imports = {p["import_id"] for p in parts}
    result = setup.command("retry", str(parent["id"]))
    assert result.returncode == 0, result.stderr
    assert setup.run_once(timeout=120) == 0
    again = show(setup, parent["id"])
    assert again["state"] == "completed"
    assert all(p["state"] == "completed" for p in again["parts"])
    assert not first_imports & {p["import_id"] for p in again["parts"]}  # new imports
    part_shas = [t["sha256"] for t in setup.tasks() if "#part-" in t["file"]]
    assert len(part_shas) == len(parts) >= 2
    assert Counter(imported_sha256s(setup.emulator)) == Counter(dict.fromkeys(part_shas, 2))
    assert (setup.root / "done" / "big.jsonl").read_bytes() == data
