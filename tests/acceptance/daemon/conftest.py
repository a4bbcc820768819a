"""Fixtures for the daemon's acceptance tests (helpers live in daemon_harness)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Setup

from streamdrop.testing import EmulatorHandle, running_emulator


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(step_seconds=0.2) as handle:
        yield handle


@pytest.fixture
def setup(tmp_path: Path, emulator: EmulatorHandle) -> Setup:
    return Setup(tmp_path, emulator)

