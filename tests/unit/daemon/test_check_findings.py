"""`check`'s offline findings on real folders: what refuses, what only warns."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from streamdrop.service import check, settings


def parse(tmp_path: Path, extra: str = "", drop: str = "") -> settings.Settings:
    text = f'[stream]\napi_key = "k"\napi_secret = "s"\n[drop]\npath = "drop"\n{drop}\n{extra}'
    return settings.parse(tomllib.loads(text), base=tmp_path, env={})


def by_key(findings: list[check.Finding]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for finding in findings:
        out.setdefault(finding.key, []).append(finding.level)
    return out


def test_a_missing_drop_folder_is_refused_unless_create_is_set(tmp_path: Path) -> None:
    refused = check.refusals(parse(tmp_path))
    assert [(f.key, f.level) for f in refused] == [("drop.path", "invalid")]
    assert "does not exist" in refused[0].message
    assert "create = true" in refused[0].message
    assert check.refusals(parse(tmp_path, drop="create = true")) == []


def test_other_folders_may_be_made_but_not_be_files(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    (tmp_path / "done").write_text("a file, not a folder")
    found = by_key(check.folders(parse(tmp_path)))
    assert found["drop.path"] == ["ok"]
    assert found["drop.done"] == ["invalid"]
    assert found["drop.failed"] == ["ok"]  # will be created


def test_a_folder_below_a_file_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    (tmp_path / "blocker").write_text("x")
    findings = check.folders(parse(tmp_path, drop='failed = "blocker/failed"'))
    (failed,) = [f for f in findings if f.key == "drop.failed"]
    assert failed.level == "invalid"
    assert "cannot be made" in failed.message


def test_another_filesystem_is_a_warning_not_a_refusal(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem here (/dev/shm)")
    (tmp_path / "drop").mkdir()
    config = parse(tmp_path, drop=f'done = "{shm}/streamdrop-check-{tmp_path.name}"')
    assert by_key(check.folders(config))["drop.done"] == ["ok", "warning"]
    assert check.refusals(config) == []


def test_unknown_notification_urls_are_refused_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    config = parse(tmp_path, '[notify]\nurls = ["json://localhost/x"]\n'
                   '[[rules]]\nglob = "**"\nmode = "upsert"\nnotify = ["notaurl"]\n')
    (bad,) = check.refusals(config)
    assert bad.key == "rules[0].notify"
    assert "'notaurl'" in bad.message


def test_notification_url_secrets_are_not_repeated(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    config = parse(tmp_path, '[notify]\nurls = ["nosuchscheme://user:hunter2@host/"]\n')
    (bad,) = check.refusals(config)
    assert "hunter2" not in bad.message
    assert "nosuchscheme://" in bad.message


def test_missing_credentials_are_invalid(tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    config = settings.parse(tomllib.loads('[drop]\npath = "drop"\n'), base=tmp_path, env={})
    (bad,) = check.refusals(config)
    assert bad.key == "stream"
    assert check.exit_code([bad]) == 2
    assert check.exit_code([check.Finding("failed", "stream", "x")]) == 1
    assert check.exit_code([check.Finding("warning", "drop.done", "x")]) == 0
