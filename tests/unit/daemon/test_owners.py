"""Owner ids and the reaper's predicate: whose lease may be taken back at once."""

from __future__ import annotations

import os
import socket
import subprocess

from streamdrop.service.owners import gone_on, owner_id, owner_pid, pid_alive


def test_an_owner_id_names_this_host_and_process() -> None:
    owner = owner_id()
    assert owner_pid(owner, socket.gethostname()) == os.getpid()
    assert owner_pid(owner, "elsewhere") is None
    assert owner != owner_id()  # a fresh token each time


def test_malformed_owner_ids_name_no_process() -> None:
    for owner in ("host", "host:12", "host:x:tok", "host:1:2:3", ""):
        assert owner_pid(owner, "host") is None


def test_only_a_dead_process_on_this_host_is_gone() -> None:
    gone = gone_on("here", alive=lambda pid: pid != 4242)
    assert gone("here:4242:t")
    assert not gone("here:4243:t")  # alive
    assert not gone("there:4242:t")  # another host: its lease expires instead
    assert not gone(f"here:{os.getpid()}:t")  # never ourselves
    assert not gone("not-an-owner-id")


def test_pid_alive_tells_a_finished_process_from_a_running_one() -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    assert not pid_alive(child.pid)  # reaped: nothing has that pid now
    assert pid_alive(os.getpid())
