"""JSON values drawn as a tree for people (stream-cli's `--output tree`); pure."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

_BRANCH, _LAST, _PIPE, _SPACE = "├── ", "└── ", "│   ", "    "


def scalar_text(value: Any) -> str:
    """A leaf as JSON would spell it, strings unquoted."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping) and not value:
        return "{}"
    if isinstance(value, list) and not value:
        return "[]"
    return str(value)


def _children(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, Mapping):
        return [(str(key), item) for key, item in value.items()]
    if isinstance(value, list):
        return [(f"[{index}]", item) for index, item in enumerate(value)]
    return []


def _is_branch(value: Any) -> bool:
    return bool(_children(value))


def _lines(value: Any, prefix: str) -> Iterator[str]:
    children = _children(value)
    for position, (label, child) in enumerate(children):
        last = position == len(children) - 1
        connector = _LAST if last else _BRANCH
        if _is_branch(child):
            yield f"{prefix}{connector}{label}"
            yield from _lines(child, prefix + (_SPACE if last else _PIPE))
        else:
            yield f"{prefix}{connector}{label}: {scalar_text(child)}"


def render_tree(value: Any, label: str) -> str:
    """`label` on the first line, then one line per field, nested fields indented."""
    if not _is_branch(value):
        return f"{label}: {scalar_text(value)}"
    return "\n".join([label, *_lines(value, "")])
