"""The start of a file: blanks of any length before the content, a BOM, one object over lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from streamdrop.validation import Options, validate_path
from streamdrop.validation.run import validate_file
from streamdrop.validation.sniff import first_content, one_object_over_lines

USERS = [{"type": "user", "item": {"id": "a"}}, {"type": "user", "item": {"id": "b", "role": "x"}}]


def _verdict(data: bytes) -> dict[str, object]:
    return validate_file(io.BytesIO(data), len(data), Options(), "auto").to_json()


@pytest.mark.parametrize("blanks", [b" " * 70_000, b"\n" * 9_000_000, b"\xef\xbb\xbf \r\n\t"])
def test_blanks_of_any_length_before_an_array_are_skipped(blanks: bytes) -> None:
    body = json.dumps(USERS, indent=1).encode()
    out = _verdict(blanks + body)
    assert out["Format"] == "chat" and out["ErrorCount"] == 1
    second = body.index(b"{", body.index(b"},"))  # where the second item starts
    role_error = out["Errors"][0]  # type: ignore[index]
    assert role_error["item"] == 1
    assert role_error["offset"] == len(blanks) + second
    assert role_error["line"] == blanks.count(b"\n") + body.count(b"\n", 0, second) + 1


def test_blanks_before_json_lines_are_skipped_and_lines_counted() -> None:
    body = b"".join(json.dumps({"type": "user", "data": u["item"]}).encode() + b"\n"
                    for u in USERS)
    out = _verdict(b"\n" * 9_000_000 + body)
    assert out["Format"] == "chat-jsonl"
    assert [(e["item"], e["line"]) for e in out["Errors"]] == [(1, 9_000_002)]  # type: ignore


def test_only_blanks_is_the_empty_file() -> None:
    for fmt in ("auto", "chat", "chat-jsonl"):
        data = b" \n" * 100_000
        out = validate_file(io.BytesIO(data), len(data), Options(), fmt).to_json()
        assert "the file is empty" in out["Errors"][0]["error"]  # type: ignore[index]


def test_first_content_counts_the_lines_it_skips() -> None:
    start, head = first_content(io.BytesIO(b"\n \n" * 50_000 + b"[1]"))
    assert (start.offset, start.line, head) == (150_000, 100_001, b"[1]")


def test_a_top_level_object_is_neither_format(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text(json.dumps({"users": [u["item"] for u in USERS], "channels": []}, indent=2))
    out = validate_path(path).to_json()
    assert out["ErrorCount"] == 1
    assert out["Errors"][0]["error"] == (  # type: ignore[index]
        "parse error: expected an array of items or JSON Lines (one item per line), found one "
        "JSON object spread over several lines")


@pytest.mark.parametrize(("head", "spread"), [
    (b'{\n  "users": []\n}\n', True),
    (b'{\n  "users": [\n', True),  # goes on past the sniffed head
    (b'{"type": "user", "data": {"id": "a"}}\n{"type": "user"}\n', False),  # JSON Lines
    (b'{"type": "user", "data": {"id": "a"\n{"type": "user", "data": {}}\n', False),  # broken line
    (b'{"type": "user"}', False),
])
def test_one_object_over_lines_is_told_from_json_lines(head: bytes, spread: bool) -> None:
    assert one_object_over_lines(head) is spread
