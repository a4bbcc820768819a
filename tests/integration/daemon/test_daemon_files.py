"""Moves and reports on real folders: names within the filesystem's limit, modes, no leftovers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from streamdrop.service import files


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("name", ["a" * 240 + ".jsonl", "é" * 120 + ".jsonl", "x" * 255])
def test_reports_and_next_free_names_of_a_long_name_fit_in_255_bytes(tmp_path: Path,
                                                                     name: str) -> None:
    src = tmp_path / "drop" / name
    src.parent.mkdir()
    src.write_bytes(b"{}")
    landed = files.move(src, files.free_destination(tmp_path / "done", name))
    report = files.write_report(landed, {"file": name})
    (tmp_path / "drop" / name).write_bytes(b"[]")
    second = files.move(tmp_path / "drop" / name, files.free_destination(tmp_path / "done", name))
    files.write_report(second, {"file": name})
    names = sorted(p.name for p in (tmp_path / "done").iterdir())
    assert len(names) == 4
    assert all(len(n.encode()) <= files.NAME_MAX for n in names)
    assert landed.name == name
    assert report.name.endswith(".report.json")
    assert second != landed
    assert second.read_bytes() == b"[]"
    if "." in name:
        assert second.suffix == ".jsonl"


def test_a_name_is_cut_on_a_character_boundary_and_keeps_its_extension() -> None:
    cut = files.fit_name("é" * 200 + ".jsonl", ".report.json")
    assert len(cut.encode()) <= 255
    assert cut.endswith(".jsonl.report.json")
    cut.encode("utf-8")  # a whole character was cut, never half of one
    assert files.fit_name("short.jsonl", ".report.json") == "short.jsonl.report.json"
    assert files.fit_name("a" * 300 + ".jsonl") != files.fit_name("a" * 299 + "b.jsonl")


def test_reports_and_copies_are_created_0640_less_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        report = files.write_report(tmp_path / "done" / "a.jsonl", {"ok": True})
        src = tmp_path / "b.jsonl"
        src.write_bytes(b"{}")
        src.chmod(0o666)
        moved = files.move(src, tmp_path / "done" / "b.jsonl")
        os.umask(0o077)
        private = files.write_report(tmp_path / "done" / "c.jsonl", {"ok": True})
    finally:
        os.umask(old)
    assert mode_of(report) == 0o640
    assert mode_of(moved) == 0o640  # a file moved in by a link loses what goes beyond
    assert mode_of(private) == 0o600
