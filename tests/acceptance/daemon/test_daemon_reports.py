"""Every file in done/, failed/ and duplicates/ has its report beside it, named after it, and
no report outlives its file: a retried file ends with one report, under its own name."""

from __future__ import annotations

import json

import pytest
from daemon_harness import Setup, chat_file, drop, invalid_file


def names(folder: object) -> list[str]:
    from pathlib import Path

    assert isinstance(folder, Path)
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.slow
def test_a_retried_file_keeps_its_name_and_one_report(setup: Setup) -> None:
    drop(setup.drop, "insert/a.jsonl", chat_file(1))
    drop(setup.drop, "bad.jsonl", invalid_file())
    assert setup.run_once() == 0
    assert names(setup.root / "done") == ["insert/a.jsonl", "insert/a.jsonl.report.json"]
    assert names(setup.root / "failed") == ["bad.jsonl", "bad.jsonl.report.json"]
    tasks = {t["file"]: t for t in setup.tasks()}
    for file in ("insert/a.jsonl", "bad.jsonl"):
        assert setup.command("retry", str(tasks[file]["id"])).returncode == 0
    assert setup.run_once() == 0
    assert names(setup.root / "done") == ["insert/a.jsonl", "insert/a.jsonl.report.json"]
    assert names(setup.root / "failed") == ["bad.jsonl", "bad.jsonl.report.json"]
    again = {t["file"]: t for t in setup.tasks()}
    assert again["insert/a.jsonl"]["state"] == "completed"
    report = json.loads((setup.root / "done/insert/a.jsonl.report.json").read_text())
    assert report["import_id"] == again["insert/a.jsonl"]["import_id"]
    assert report["import_id"] != tasks["insert/a.jsonl"]["import_id"]  # the new run's
