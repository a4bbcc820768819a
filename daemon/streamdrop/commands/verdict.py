"""Showing a verdict: JSON for programs, a tree for people, progress on a terminal."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

import orjson

from streamdrop.validation.model import Problem, Result

PROGRESS_MIN_BYTES = 16 * 1024 * 1024  # smaller files finish before a bar helps
PROGRESS_INTERVAL = 0.2


def print_result(result: Result, output: str, path: Path, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    if output == "json":
        out.write(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.write(render_tree(result, path))
    out.flush()


def _where(problem: Problem) -> str:
    parts = []
    if problem.line is not None:
        parts.append(f"line {problem.line}")
    if problem.item is not None:
        parts.append(f"item {problem.item}")
    if problem.index is not None:
        parts.append(f"data[{problem.index}]")
    if problem.offset is not None:
        parts.append(f"byte {problem.offset}")
    return ", ".join(parts)


def _problem_lines(title: str, problems: list[Problem], total: int) -> list[str]:
    if not total:
        return []
    lines = [f"├── {title} ({total})"]
    for number, problem in enumerate(problems):
        branch = "└──" if number == len(problems) - 1 and total == len(problems) else "├──"
        lines.append(f"│   {branch} {problem.message}")
        where = _where(problem)
        if where:
            lines.append(f"│   {'    ' if branch == '└──' else '│   '}   at {where}")
    if total > len(problems):
        lines.append(f"│   └── … {total - len(problems)} more not listed (--max-errors)")
    return lines


def render_tree(result: Result, path: Path) -> str:
    verdict = "valid" if result.valid else "INVALID"
    lines = [f"{path} ({result.format or 'unknown format'}, {result.size:,} bytes): {verdict}"]
    lines += _problem_lines("Errors", result.errors, result.error_count)
    lines += _problem_lines("Warnings", result.warnings, result.warning_count)
    lines.append("└── Stats")
    stats = sorted(result.stats.items())
    for number, (name, count) in enumerate(stats):
        lines.append(f"    {'└──' if number == len(stats) - 1 else '├──'} {name}: {count:,}")
    return "\n".join(lines) + "\n"


class Progress:
    """A one-line progress report on stderr for large files (only on a terminal)."""

    def __init__(self, total: int, stream: TextIO, label: str = "validating") -> None:
        self.total = total
        self.label = label
        self.stream = stream
        self.started = time.monotonic()
        self.shown_at = 0.0

    @classmethod
    def for_file(cls, path: Path, label: str = "validating") -> Progress | None:
        try:
            size = path.stat().st_size
        except OSError:
            return None
        return cls(size, sys.stderr, label) if size >= PROGRESS_MIN_BYTES else None

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.shown_at < PROGRESS_INTERVAL:
            return
        self.shown_at = now
        rate = done / max(now - self.started, 1e-6) / 2**20
        percent = 100 * done / self.total if self.total else 100
        self.stream.write(f"\r{self.label}: {percent:5.1f}% of {self.total / 2**20:,.1f} MiB "
                          f"({rate:,.1f} MiB/s)")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()
