"""Two cores, one verdict: a file checked in two parts gives exactly what one pass gives.

The helper runs in a thread here (the same code, over the same pipe, pickled
the same way), so that hypothesis can try hundreds of files and cuts; one
test at the end runs it as the real process.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.unit.test_fastpath import ITEMS

from streamdrop.validation import Options, parallel, reader, validate_path
from streamdrop.validation.run import validate_file

OPTIONS = Options(roles=frozenset({"user"}), channel_types={"messaging": 150}, max_errors=7)


def thread_launch(job: parallel.Job) -> parallel.Helper:
    ours, theirs = multiprocessing.Pipe()
    thread = threading.Thread(target=parallel.serve, args=(theirs, job), daemon=True)
    thread.start()
    return parallel.Helper(ours, lambda: None, thread.join)


def _layout(items: list[Any], layout: str) -> bytes:
    if layout == "jsonl":
        return b"".join(json.dumps({"type": i.get("type"), "data": i.get("item")}
                                   if isinstance(i, dict) else i).encode() + b"\n"
                        for i in items)
    return json.dumps(items, indent=1 if layout == "pretty" else None).encode()


def _both(data: bytes, fmt: str, share: float, patch: pytest.MonkeyPatch,
          handed: list[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    one_pass = validate_file(io.BytesIO(data), len(data), OPTIONS, fmt).to_json()
    joined = parallel._joined

    def spy(*args: Any) -> Any:
        handed.append(1)
        return joined(*args)

    patch.setattr(parallel, "MIN_BYTES", 0)
    patch.setattr(parallel, "INDEX_PASS_COST", dict.fromkeys(parallel.FORMATS, 2 - 1 / share))
    patch.setattr(parallel, "launch", thread_launch)
    patch.setattr(parallel, "_joined", spy)
    patch.setattr(reader, "BATCH_SIZE", 64)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "export.json"
        path.write_bytes(data)
        two_parts = validate_path(path, OPTIONS, fmt).to_json()
    return one_pass, two_parts


HANDED: list[int] = []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(ITEMS, min_size=2, max_size=40),
       layout=st.sampled_from(["lines", "pretty", "jsonl"]),
       share=st.floats(0.05, 0.95))
def test_two_parts_give_the_verdict_of_one_pass(items: list[Any], layout: str,
                                                 share: float) -> None:
    data = _layout(items, layout)
    fmt = "chat-jsonl" if layout == "jsonl" else "chat"
    with pytest.MonkeyPatch.context() as patch:
        one_pass, two_parts = _both(data, fmt, share, patch, HANDED)
    assert two_parts == one_pass


def _valid_file(layout: str) -> bytes:
    from bench.generate import ChatFile

    key = "data" if layout == "jsonl" else "item"
    items = [{"type": kind, key: body} for kind, body in ChatFile(120_000, seed=5).items()]
    if layout == "jsonl":
        return b"".join(json.dumps(i).encode() + b"\n" for i in items)
    return json.dumps(items, indent=2 if layout == "pretty" else None).encode()


@pytest.mark.parametrize("layout", ["lines", "pretty", "jsonl"])
@pytest.mark.parametrize("share", [0.2, 0.5, 0.8])
def test_a_valid_file_is_handed_over_and_its_references_joined(
        layout: str, share: float, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _valid_file(layout)
    # A bad role in the first part (found as it streams), a missing user in the second,
    # a forward reference from the first part into the second: all kept, in item order.
    data = data.replace(b'"role":"user"', b'"role":"ghost"', 1).replace(
        b'"role": "user"', b'"role": "ghost"', 1)
    data = data[:len(data) * 9 // 10] + data[len(data) * 9 // 10:].replace(
        b'"user-0000003"', b'"user-9999999"', 1)
    handed: list[int] = []
    fmt = "chat-jsonl" if layout == "jsonl" else "chat"
    one_pass, two_parts = _both(data, fmt, share, monkeypatch, handed)
    assert two_parts == one_pass
    assert handed == [1]  # the helper's findings were used
    assert one_pass["ErrorCount"] + one_pass["WarningCount"] >= 2


def test_a_field_error_in_the_first_part_makes_this_process_go_on_alone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = _valid_file("lines")
    data = data.replace(b'"id": "user-0000001"', b'"id": "bad id"', 1)
    handed: list[int] = []
    one_pass, two_parts = _both(data, "chat", 0.5, monkeypatch, handed)
    assert two_parts == one_pass
    assert handed == []
    assert one_pass["ErrorCount"] >= 1


def test_the_helper_is_a_real_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _valid_file("jsonl")
    path = tmp_path / "export.jsonl"
    path.write_bytes(data)
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    started: list[parallel.Job] = []
    real_launch = parallel.launch

    def spy(job: parallel.Job) -> parallel.Helper:
        started.append(job)
        return real_launch(job)

    monkeypatch.setattr(parallel, "launch", spy)
    two_parts = validate_path(path, Options()).to_json()
    assert started
    assert two_parts == validate_file(io.BytesIO(data), len(data), Options()).to_json()
    assert two_parts["ErrorCount"] == 0 and two_parts["Stats"]["messages"] > 100


def test_forward_references_of_the_first_part_go_over_in_batches(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.generate import ChatFile

    items = [{"type": kind, "item": body} for kind, body in ChatFile(120_000, seed=5).items()]
    users = [i for i in items if i["type"] == "user"]
    rest = [i for i in items if i["type"] != "user"]
    rest[-1]["item"]["user_id"] = "user-9999999"  # one reference that stays missing
    data = json.dumps(rest + users).encode()  # everything names users further on
    monkeypatch.setattr(parallel, "PARKED_BATCH", 7)
    handed: list[int] = []
    one_pass, two_parts = _both(data, "chat", 0.5, monkeypatch, handed)
    assert two_parts == one_pass
    assert handed == [1]
    assert one_pass["ErrorCount"] == 1


def test_progress_covers_the_whole_file_while_the_first_part_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _valid_file("jsonl")
    path = tmp_path / "export.jsonl"
    path.write_bytes(data)
    monkeypatch.setattr(parallel, "MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "launch", thread_launch)
    monkeypatch.setattr(reader, "CHUNK_SIZE", 4096)
    seen: list[int] = []
    assert validate_path(path, Options(), on_progress=seen.append).valid
    assert seen == sorted(seen)
    assert len(data) * 0.9 <= seen[-1] <= len(data)
