"""`streamdrop split` and `streamdrop convert` as a user runs them: a subprocess, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson

STREAMDROP = [sys.executable, "-m", "streamdrop"]


def streamdrop(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*STREAMDROP, *map(str, args)], capture_output=True, text=True,
                          timeout=60, check=False)


def chat_array(path: Path, messages: int) -> None:
    records = [{"type": "user", "item": {"id": "u1"}},
               {"type": "channel", "item": {"type": "messaging", "id": "c1",
                                            "created_by": "u1"}},
               *({"type": "message", "item": {"id": f"m{n}", "channel_type": "messaging",
                                              "channel_id": "c1", "user": "u1",
                                              "text": "hello " * 20}}
                 for n in range(messages))]
    path.write_bytes(orjson.dumps(records))


def test_split_writes_parts_and_manifest_and_prints_it(tmp_path: Path) -> None:
    source = tmp_path / "export.json"
    chat_array(source, 200)
    run = streamdrop("split", source, "--out", tmp_path / "parts", "--max-bytes", "10000")
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    manifest = json.loads((tmp_path / "parts" / "export.parts.json").read_text())
    assert printed == manifest
    assert manifest["source"]["format"] == "chat"
    names = [part["name"] for part in manifest["parts"]]
    assert names[:2] == ["export.part-0001.jsonl", "export.part-0002.jsonl"]
    assert sum(part["items"].get("message", 0) for part in manifest["parts"]) == 200
    for name in names:
        check = streamdrop("validate", tmp_path / "parts" / name, "--output", "json")
        assert check.returncode == 0, check.stdout


def test_split_refuses_an_oversize_item_with_exit_1(tmp_path: Path) -> None:
    source = tmp_path / "export.json"
    chat_array(source, 3)
    run = streamdrop("split", source, "--out", tmp_path / "parts", "--max-bytes", "100")
    assert run.returncode == 1
    offset = source.read_bytes().index(b'{"type":"message"')
    assert "message item 2 is 225 bytes" in run.stderr
    assert f"(line 1, byte {offset})" in run.stderr
    assert not (tmp_path / "parts" / "export.parts.json").exists()


def test_split_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    run = streamdrop("split", tmp_path / "nope.json", "--out", tmp_path / "parts")
    assert run.returncode == 2
    assert "nope.json" in run.stderr and "Traceback" not in run.stderr


def test_convert_writes_one_valid_jsonl_file(tmp_path: Path) -> None:
    source = tmp_path / "export.json"
    chat_array(source, 50)
    target = tmp_path / "export.jsonl"
    run = streamdrop("convert", source, "--out", target)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["items"] == {"user": 1, "channel": 1, "message": 50}
    lines = [orjson.loads(line) for line in target.read_bytes().splitlines()]
    assert [line["type"] for line in lines[:2]] == ["user", "channel"]
    assert all(set(line) == {"type", "data"} for line in lines)
    assert streamdrop("validate", target).returncode == 0
