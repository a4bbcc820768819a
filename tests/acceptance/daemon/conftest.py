"""Fixtures for the daemon's acceptance tests (helpers live in daemon_harness)."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server for the session (skipped without binaries)."""
    from streamdrop.pgcluster import ClusterUnavailable, temporary_cluster

    try:
        cluster = temporary_cluster()
        base_url = cluster.__enter__()
    except ClusterUnavailable as exc:
        if os.environ.get("STREAMDROP_REQUIRE_POSTGRES"):  # CI: a skip would hide the tests
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(str(exc))
    try:
        yield base_url
    finally:
        cluster.__exit__(None, None, None)
