"""The daemon's pure decisions: file stability, task transitions, poll intervals, identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamdrop.service import files
from streamdrop.service.fingerprint import identity, sha256_file
from streamdrop.service.settings import PollSettings
from streamdrop.service.stability import Seen, ignored_path, is_complete, observe
from streamdrop.storage.states import State, TransitionError, can_move, check_move, resume_step
from streamdrop.stream.import_states import next_interval

NOW = 1_800_000_000.0


def test_a_growing_file_is_not_complete_until_it_settles() -> None:
    seen = observe(None, 10, int(NOW * 1e9), NOW)
    seen = observe(seen, 20, int((NOW + 1) * 1e9), NOW + 1)
    assert not is_complete(seen, NOW + 2, settle_seconds=2)
    assert is_complete(seen, NOW + 3, settle_seconds=2)


def test_unchanged_observation_keeps_its_start() -> None:
    first = observe(None, 10, int(NOW * 1e9), NOW)
    assert observe(first, 10, int(NOW * 1e9), NOW + 5) is first


def test_a_file_renamed_in_with_an_old_mtime_is_complete_at_once() -> None:
    seen = Seen(size=10, mtime_ns=int((NOW - 60) * 1e9), since=NOW)
    assert is_complete(seen, NOW, settle_seconds=2)


@pytest.mark.parametrize(("parts", "ignored"), [
    ((".hidden.json",), True), (("a.json.part",), True), (("a.tmp",), True),
    (("a.json~",), True), ((".git", "x.json"), True), (("ok", "x.jsonl"), False),
])
def test_hidden_and_temporary_names_are_ignored(parts: tuple[str, ...], ignored: bool) -> None:
    assert ignored_path(parts) is ignored


def test_transitions_only_go_forward_except_retry() -> None:
    assert can_move(State.PENDING, State.VALIDATING)
    assert can_move(State.IMPORTING, State.COMPLETED)
    assert can_move(State.COMPLETED, State.PENDING)  # retry
    assert not can_move(State.COMPLETED, State.FAILED)
    assert not can_move(State.PENDING, State.IMPORTING)
    with pytest.raises(TransitionError):
        check_move(State.INVALID, State.UPLOADING)


def test_resume_step_after_a_crash() -> None:
    assert resume_step("validating", None, None) == "validate"
    assert resume_step("uploading", "s3://p", None) == "reconcile"
    assert resume_step("uploading", None, None) == "upload"
    assert resume_step("importing", "s3://p", "id") == "poll"


def test_poll_interval_grows_while_slow_and_restarts_on_change() -> None:
    poll = PollSettings(min_interval_seconds=2, max_interval_seconds=10)
    interval = next_interval(poll.schedule, None, False)
    seen = [interval]
    for _ in range(8):
        interval = next_interval(poll.schedule, interval, False)
        seen.append(interval)
    assert seen[0] == 2
    assert seen == sorted(seen)
    assert seen[-1] == 10
    assert next_interval(poll.schedule, 10, True) == 2


def test_identity_depends_on_every_import_parameter() -> None:
    base = {"target": "default", "mode": "insert", "merge_custom": None, "format": "auto"}
    assert identity("ab", base) == identity("ab", dict(base))
    assert identity("ab", base) != identity("ab", {**base, "mode": "upsert"})
    assert identity("ab", base) != identity("ab", {**base, "merge_custom": True})
    assert identity("ab", base) != identity("cd", base)


def test_sha256_is_streamed_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x"
    path.write_bytes(b"a" * (3 << 20))
    import hashlib

    assert sha256_file(path) == hashlib.sha256(b"a" * (3 << 20)).hexdigest()


def test_moves_never_overwrite_and_keep_relative_paths(tmp_path: Path) -> None:
    done = tmp_path / "done"
    for n in range(3):
        src = tmp_path / f"src{n}"
        src.write_bytes(str(n).encode())
        dest = files.free_destination(done, "a/b/x.json")
        landed = files.move(src, dest)
        files.write_report(landed, {"n": n})
    names = sorted(p.name for p in (done / "a" / "b").iterdir())
    assert names == ["x.1.json", "x.1.json.report.json", "x.2.json", "x.2.json.report.json",
                     "x.json", "x.json.report.json"]
    assert (done / "a/b/x.json").read_bytes() == b"0"
