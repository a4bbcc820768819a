"""Memory does not follow the problems: all counted, the first `max_errors` kept, parked spilled."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from streamdrop.validation import Options, spill
from streamdrop.validation.run import validate_file
from streamdrop.validation.spill import SpillList


def test_a_spill_list_gives_back_what_it_got_in_order_across_its_file() -> None:
    entries = SpillList(limit=3)
    for n in range(10):
        entries.append(("item", n, ("facts", str(n))))
    assert entries.file is not None  # three batches went to disk
    assert len(entries) == 10
    assert list(entries) == [("item", n, ("facts", str(n))) for n in range(10)]
    assert list(entries) == []  # read once


def _file(count: int) -> bytes:
    """Reference problems found at once (bad roles) and at the end (forward names), interleaved."""
    items: list[dict[str, Any]] = [
        {"type": "user", "item": {"id": "owner"}},
        {"type": "channel", "item": {"id": "c", "type": "messaging", "created_by": "owner"}},
    ]
    for n in range(count):
        items.append({"type": "user", "item": {"id": f"u{n}", "role": f"role-{n}"}})
        items.append({"type": "message", "item": {"id": f"m{n}", "channel_type": "messaging",
                                                  "channel_id": "c", "user": f"ghost-{n}"}})
        items.append({"type": "message", "item": {"id": f"r{n}", "channel_type": "messaging",
                                                  "channel_id": "c", "user": "owner",
                                                  "parent_id": f"m{n + 1}"}})
    return json.dumps(items).encode()


def _verdict(data: bytes, max_errors: int) -> dict[str, Any]:
    return validate_file(io.BytesIO(data), len(data), Options(max_errors=max_errors),
                         "chat").to_json()


def test_the_first_max_errors_are_kept_in_item_order_and_all_are_counted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = _file(300)
    everything = _verdict(data, 10_000)
    assert everything["ErrorCount"] == 300 + 300 + 1  # roles, ghosts, and the last reply's parent
    items = [error["item"] for error in everything["Errors"]]
    assert items == sorted(items)
    few = _verdict(data, 25)
    assert few["ErrorCount"] == everything["ErrorCount"]
    assert few["Errors"] == everything["Errors"][:25]
    monkeypatch.setattr(spill, "MEMORY_ENTRIES", 7)  # parked items go to disk
    assert _verdict(data, 10_000) == everything
