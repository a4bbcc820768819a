"""The daemon under attack: hostile names, links, permissions, a full disk, a lost database,
bytes changed behind its back. Each run: the daemon stays alive (or stops as it must), its
log stays JSON, nothing outside the drop folder is read or moved, every valid file is
imported exactly once, every other file ends with a report or one warning naming it."""

from __future__ import annotations

import os
import signal
import stat
import time
from pathlib import Path

import pytest
from reliability_harness import (
    HostileSetup,
    Unprivileged,
    assert_imported_once_each,
    assert_log_is_json,
    can_mount,
    padded_chat_file,
    small_tmpfs,
)
from tests.acceptance.daemon.daemon_harness import chat_file, drop, invalid_file, stop

LONG_INVALID = "L" * 240 + ".jsonl"
LONG_VALID = "V" * 249 + ".jsonl"  # 255 bytes: the longest name there is


def finished_files(setup: HostileSetup) -> dict[str, str]:
    return {str(e["file"]): str(e["state"]) for e in setup.events("task.finished")}


def bad_name(folder: Path, name: bytes, data: bytes) -> None:
    fd = os.open(os.fsencode(folder) + b"/" + name, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, data)
    os.close(fd)


def test_hostile_names_and_links_get_one_warning_each_and_the_daemon_goes_on(
        setup: HostileSetup) -> None:
    elsewhere = setup.root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "before.jsonl").write_bytes(chat_file(90))
    (setup.root / "outside.jsonl").write_bytes(chat_file(91))
    d = setup.drop
    (d / "a").symlink_to(d / "b")
    (d / "b").symlink_to(d / "a")
    (d / "out").symlink_to(elsewhere)
    (d / "link.jsonl").symlink_to(setup.root / "outside.jsonl")
    os.mkfifo(d / "fifo.jsonl")
    bad_name(d, b"bad\xff.jsonl", chat_file(92))
    valid = {"ok.jsonl": chat_file(1), "two\nlines.jsonl": chat_file(2)}
    for rel, data in valid.items():
        drop(d, rel, data)
    (d / LONG_VALID).write_bytes(chat_file(3))  # no room for a ".part" name to rename from
    valid[LONG_VALID] = chat_file(3)
    drop(d, LONG_INVALID, invalid_file())
    proc = setup.start()
    setup.wait_for_event("daemon.started")
    time.sleep(1.0)  # the watch is up: what follows arrives by events
    (elsewhere / "after.jsonl").write_bytes(chat_file(93))  # seen through the folder link
    bad_name(d, b"late\xfe.jsonl", chat_file(94))  # the event watch fails on it
    drop(d, "late.jsonl", chat_file(4))
    valid["late.jsonl"] = chat_file(4)
    setup.wait_until(lambda: len(finished_files(setup)) >= 5, 90, "five tasks finished")
    setup.wait_until(lambda: len(setup.events("drop.name_refused")) == 2, 30, "names set aside")
    assert proc.poll() is None  # alive
    assert stop(proc) == 0
    assert_log_is_json(setup)
    assert_imported_once_each(setup.emulator, list(valid.values()))
    states = finished_files(setup)
    assert states == {**dict.fromkeys(valid, "completed"), LONG_INVALID: "invalid"}
    # Nothing outside the drop folder was read into an import or moved.
    assert sorted(p.name for p in elsewhere.iterdir()) == ["after.jsonl", "before.jsonl"]
    assert (setup.root / "outside.jsonl").read_bytes() == chat_file(91)
    # Every other file ends with a report, or stays with one warning naming it.
    failed = setup.root / "failed"
    assert (failed / "bad\\xff.jsonl").read_bytes() == chat_file(92)
    assert (failed / "bad\\xff.jsonl.report.json").exists()
    assert (failed / "late\\xfe.jsonl.report.json").exists()
    reports = [p.name for p in failed.iterdir() if p.name.endswith(".report.json")]
    assert all(len(name.encode()) <= 255 for name in reports)
    assert len(reports) == 3  # the two names set aside and the long invalid file
    assert (setup.root / "done" / LONG_VALID).read_bytes() == chat_file(3)
    assert any(len(p.name) == 255 and p.name.endswith(".report.json")
               for p in (setup.root / "done").iterdir())
    for hostile in ("/a", "/b", "/out", "/link.jsonl", "/fifo.jsonl"):
        named = [w for w in setup.warnings_naming(str(d) + hostile)
                 if str(w.get("file")) == str(d) + hostile]
        assert len(named) == 1, (hostile, named)
    assert not setup.events("drop.no_rule")
    assert not [e for e in setup.events() if e.get("level") in ("error", "critical")]


def test_unreadable_folders_and_files_are_skipped_then_taken_once_readable(
        setup: HostileSetup, user: Unprivileged) -> None:
    d = setup.drop
    locked = d / "locked"
    drop(locked, "in.jsonl", chat_file(11))
    staged = setup.root / "staged"
    drop(staged, "in.jsonl", chat_file(12))
    drop(d, "secret.jsonl", chat_file(13))
    drop(d, "ok.jsonl", chat_file(14))
    setup.umask = 0o027
    setup.become(user)
    locked.chmod(0)
    (d / "secret.jsonl").chmod(0)
    staged.chmod(0)
    proc = setup.start()
    setup.wait_until(lambda: "ok.jsonl" in finished_files(setup), 60, "ok.jsonl imported")
    staged.rename(d / "locked2")  # an unreadable folder arrives while running
    setup.wait_until(lambda: len(setup.events("drop.folder_unreadable")) == 2, 30,
                     "both unreadable folders named")
    time.sleep(2.5)  # a rescan or two: still skipped, and no second warning
    assert proc.poll() is None
    for path in (locked, d / "locked2"):
        path.chmod(0o750)
    (d / "secret.jsonl").chmod(0o640)
    setup.wait_until(lambda: len(finished_files(setup)) == 4, 60, "all four imported")
    assert stop(proc) == 0
    assert_log_is_json(setup)
    assert_imported_once_each(setup.emulator, [chat_file(n) for n in (11, 12, 13, 14)])
    assert len(setup.warnings_naming("locked")) == 2
    assert len(setup.warnings_naming("secret.jsonl")) == 1
    # Created by the daemon under umask 027: the database 0600, reports 0640 at most.
    db_mode = stat.S_IMODE((setup.root / "streamdrop.db").stat().st_mode)
    assert db_mode == 0o600
    done = setup.root / "done"
    for path in done.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) & ~0o640 == 0, path


@pytest.mark.skipif(can_mount() is not None, reason=str(can_mount()))
def test_a_full_disk_leaves_no_partial_files_and_moves_happen_once_space_is_back(
        setup: HostileSetup) -> None:
    done = setup.root / "done-disk"
    setup.sections["drop"]["done"] = str(done)
    setup.write()
    with small_tmpfs(done, "512k"):
        filler = done / "filler"
        filler.write_bytes(b"\0" * (512 * 1024 - 40 * 1024))
        files = {f"big{n}.jsonl": padded_chat_file(n, 60_000) for n in range(4)}
        for rel, data in files.items():
            drop(setup.drop, rel, data)
        proc = setup.start()
        setup.wait_until(lambda: len(setup.events("task.move_failed")) == 4, 90,
                         "imports done, moves failing")
        status = setup.status()
        assert len(status["moves_pending"]) == 4
        assert all("No space left" in m["error"] for m in status["moves_pending"])
        assert sorted(p.name for p in done.iterdir()) == ["filler"]  # no partial copies
        assert all((setup.drop / rel).exists() for rel in files)
        assert not setup.events("task.finished")  # not finished until the file is there
        filler.unlink()
        setup.wait_until(lambda: len(finished_files(setup)) == 4, 40, "moves done")
        assert proc.poll() is None
        assert stop(proc) == 0
        landed = sorted(p.name for p in done.iterdir())
        assert landed == sorted([*files, *(f"{rel}.report.json" for rel in files)])
        for rel, data in files.items():
            assert (done / rel).read_bytes() == data
        assert setup.status()["moves_pending"] == []
    assert_log_is_json(setup)
    assert_imported_once_each(setup.emulator, list(files.values()))
    assert len(setup.events("task.move_finished")) == 4


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_the_database_lost_under_the_daemon_stops_it_non_zero(setup: HostileSetup,
                                                              how: str) -> None:
    drop(setup.drop, "a.jsonl", chat_file(21))
    proc = setup.start()
    setup.wait_for_event("task.finished")
    database = setup.root / "streamdrop.db"
    lost_at = time.monotonic()
    if how == "deleted":
        database.unlink()
    else:
        other = setup.root / "other.db"
        other.write_bytes(b"")
        other.replace(database)
    code = proc.wait(timeout=15)
    assert code == 3
    assert time.monotonic() - lost_at < 5
    (lost,) = setup.events("db.lost")
    assert lost["database"] == str(database)
    # A deleted file may already have a new, empty one in its place: replaced, then.
    assert how in lost["error"] or "replaced" in lost["error"]
    assert_log_is_json(setup)


def test_bytes_changed_after_validation_are_never_imported_and_are_validated_again(
        setup: HostileSetup) -> None:
    original = chat_file(31)
    edited = original.replace(b"extra_31", b"extra_39")  # same size, other (valid) bytes
    assert len(edited) == len(original)
    setup.sections["stream"]["max_active_imports"] = 1  # the new task waits for the old
    setup.write()
    path = drop(setup.drop, "a.jsonl", original)
    mtime_ns = path.stat().st_mtime_ns
    setup.emulator.inject_faults("slow", endpoint="create_import_url")  # a window to edit
    proc = setup.start()
    setup.wait_for_event("task.valid")
    path.write_bytes(edited)
    os.utime(path, ns=(mtime_ns, mtime_ns))  # the mtime set back: only the ctime moved
    setup.wait_until(lambda: "completed" in finished_files(setup).values(), 60, "imported")
    assert stop(proc) == 0
    assert_log_is_json(setup)
    assert_imported_once_each(setup.emulator, [edited])
    assert setup.events("task.changed_before_upload")
    states = sorted(t["state"] for t in setup.tasks())
    assert states == ["completed", "skipped"]


def test_sigkills_among_hostile_files_import_each_valid_file_once(setup: HostileSetup) -> None:
    d = setup.drop
    (d / "loop").symlink_to(d / "loop")
    os.mkfifo(d / "fifo.jsonl")
    bad_name(d, b"bad\xff.jsonl", chat_file(40))
    files = {f"k{n}.jsonl": chat_file(41 + n) for n in range(6)}
    for rel, data in files.items():
        drop(d, rel, data)
    for pause in (0.8, 1.3, 0.5):
        proc = setup.start()
        time.sleep(pause)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert setup.run_once(timeout=120) == 0
    assert_log_is_json(setup)
    assert_imported_once_each(setup.emulator, list(files.values()))
    assert {t["state"] for t in setup.tasks()} == {"completed"}
    assert os.listdir(os.fsencode(setup.root / "failed")).count(b"bad\\xff.jsonl") == 1


def test_a_fifo_in_the_drop_folder_never_blocks_validate_or_the_daemon(
        setup: HostileSetup) -> None:
    os.mkfifo(setup.drop / "fifo.jsonl")
    drop(setup.drop, "a.jsonl", chat_file(50))
    started = time.monotonic()
    assert setup.run_once(timeout=60) == 0
    assert time.monotonic() - started < 30
    assert_imported_once_each(setup.emulator, [chat_file(50)])
    assert os.listdir(setup.drop) == ["fifo.jsonl"]
    assert len(setup.warnings_naming("fifo.jsonl")) == 1
