"""The reliability tier: the real daemon against hostile files, folders, permissions, a full
disk, a lost database and signals (marker `reliability`; helpers in reliability_harness)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability_harness import HostileSetup, Unprivileged, unprivileged_user

from streamdrop.testing import EmulatorHandle, running_emulator


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    with running_emulator(step_seconds=0.2, slow_seconds=2.5) as handle:
        yield handle


@pytest.fixture
def user() -> Unprivileged:
    """A throwaway user without privileges (created when missing, as root); skips if none."""
    found = unprivileged_user()
    if isinstance(found, str):
        pytest.skip(found)
    return found


@pytest.fixture
def setup(emulator: EmulatorHandle) -> Iterator[HostileSetup]:
    with HostileSetup.in_shared_tmp(emulator) as hostile:
        yield hostile
