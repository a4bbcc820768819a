"""The tree drawing of `--output tree`."""

from __future__ import annotations

from streamdrop.commands.tree import render_tree


def test_nested_values_are_drawn_as_a_tree() -> None:
    task = {"id": "abc", "state": "uploaded", "history": [
        {"prev_state": "uploaded", "next_state": "analyzing"}], "result": None,
        "size": 12, "meta": {}, "ok": True}
    assert render_tree(task, "import abc") == "\n".join([
        "import abc",
        "├── id: abc",
        "├── state: uploaded",
        "├── history",
        "│   └── [0]",
        "│       ├── prev_state: uploaded",
        "│       └── next_state: analyzing",
        "├── result: null",
        "├── size: 12",
        "├── meta: {}",
        "└── ok: true",
    ])


def test_a_leaf_or_empty_value_is_one_line() -> None:
    assert render_tree([], "imports") == "imports: []"
    assert render_tree("x", "name") == "name: x"
