"""The shipped unit files agree with the daemon: stop timeout above the drain grace period."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from streamdrop.service.settings import DaemonSettings

UNITS = Path(__file__).resolve().parents[3] / "systemd"


@pytest.mark.parametrize("name", ["streamdrop.service", "streamdrop@.service"])
def test_timeout_stop_exceeds_grace(name: str) -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(UNITS / name)
    assert float(unit["Service"]["TimeoutStopSec"]) > DaemonSettings().grace_seconds
    assert unit["Service"]["KillSignal"] == "SIGTERM"
    assert "run --config" in unit["Service"]["ExecStart"]
