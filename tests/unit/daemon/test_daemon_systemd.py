"""The shipped unit files agree with the daemon and are hardened: exposure at most 2.0."""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from streamdrop.service.settings import DaemonSettings

UNITS = Path(__file__).resolve().parents[3] / "systemd"
SERVICES = ["streamdrop.service", "streamdrop@.service"]
ALL_UNITS = sorted(p.name for p in UNITS.glob("*.service"))
MAX_EXPOSURE = 2.0
REQUIRE_ENV = "STREAMDROP_REQUIRE_SYSTEMD"  # CI: a missing systemd-analyze fails, not skips
_OVERALL = re.compile(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)")


def _unit(name: str) -> configparser.SectionProxy:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(UNITS / name)
    return unit["Service"]


def _analyze() -> str:
    binary = shutil.which("systemd-analyze")
    if binary is None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail("systemd-analyze is required here (Debian's systemd package)")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return binary


def test_every_unit_is_checked() -> None:
    assert ALL_UNITS == ["streamdrop-migrate.service", "streamdrop-migrate@.service",
                         "streamdrop.service", "streamdrop@.service"]


@pytest.mark.parametrize("name", ALL_UNITS)
def test_exposure_is_at_most_two(name: str) -> None:
    result = subprocess.run([_analyze(), "security", "--offline=yes", str(UNITS / name)],
                            capture_output=True, text=True, timeout=60, check=False)
    match = _OVERALL.search(result.stdout + result.stderr)
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


@pytest.mark.parametrize("name", ALL_UNITS)
def test_files_it_creates_are_not_for_others(name: str) -> None:
    service = _unit(name)
    assert service["UMask"] == "0027"
    assert service["User"] == "streamdrop"
    assert service.get("MemoryMax")


@pytest.mark.parametrize("name", SERVICES)
def test_timeout_stop_exceeds_grace(name: str) -> None:
    service = _unit(name)
    assert float(service["TimeoutStopSec"]) > DaemonSettings().grace_seconds
    assert service["KillSignal"] == "SIGTERM"
    assert "run --config" in service["ExecStart"]


@pytest.mark.parametrize("name", SERVICES)
def test_daemons_notify_are_watched_and_reload_on_sighup(name: str) -> None:
    service = _unit(name)
    assert service["Type"] == "notify"
    assert float(service["WatchdogSec"]) >= 10
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["StateDirectory"] == "streamdrop"
    assert "AF_UNIX" in service["RestrictAddressFamilies"]  # the notify socket
