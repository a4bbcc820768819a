"""`streamdrop check` against the emulator, and `run` refusing what `check --offline` rejects."""

from __future__ import annotations

import socket

import pytest
from daemon_harness import Setup


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_a_good_configuration_checks_out(setup: Setup) -> None:
    result = setup.command("check", "--output", "tree")
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert all(line.split()[0] in ("ok", "warning") for line in lines), lines
    assert any(line.startswith("ok      stream: credentials accepted") for line in lines)
    assert any(line.startswith("ok      database.url:") for line in lines)
    assert not (setup.root / "streamdrop.db").exists()  # check creates no database


@pytest.mark.slow
def test_live_failures_exit_1_and_offline_skips_them(setup: Setup) -> None:
    setup.sections["stream"]["api_secret"] = "wrong"
    setup.write()
    refused = setup.command("check", "--output", "tree")
    assert refused.returncode == 1
    assert "failed  stream: credentials refused by Stream (401)" in refused.stdout
    assert "wrong" not in refused.stdout + refused.stderr
    assert setup.command("check", "--output", "tree", "--offline").returncode == 0

    port = free_port()
    setup.sections["stream"]["base_url"] = f"http://127.0.0.1:{port}"
    setup.write()
    unreachable = setup.command("check", "--output", "tree")
    assert unreachable.returncode == 1
    assert f"connection refused to 127.0.0.1:{port}" in unreachable.stdout


@pytest.mark.slow
def test_run_refuses_what_check_offline_rejects_with_the_same_message(setup: Setup) -> None:
    setup.sections["notify"] = {"urls": ["notaurl"]}
    setup.sections["drop"]["path"] = str(setup.root / "not-there")
    setup.write()
    checked = setup.command("check", "--output", "tree", "--offline")
    assert checked.returncode == 2
    invalid = [line for line in checked.stdout.splitlines() if line.startswith("invalid")]
    assert [line.split()[1] for line in invalid] == ["drop.path:", "notify.urls:"]
    run = setup.command("run")
    assert run.returncode == 2
    for line in invalid:
        assert line.removeprefix("invalid").strip() in run.stderr
    assert not (setup.root / "not-there").exists()
    assert not (setup.root / "streamdrop.db").exists()


@pytest.mark.slow
def test_an_unknown_key_is_invalid(setup: Setup) -> None:
    setup.sections["drop"]["setle_seconds"] = 1
    setup.write()
    result = setup.command("check", "--output", "tree")
    assert result.returncode == 2
    assert result.stdout.startswith("invalid drop.setle_seconds: unknown key")
