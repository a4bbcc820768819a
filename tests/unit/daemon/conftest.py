"""Fixtures for the daemon's unit tests: the in-memory store on a fake clock, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamdrop.service import settings
from streamdrop.service.settings import Settings
from streamdrop.testing import FakeClock, InMemoryRepository


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> InMemoryRepository:
    return InMemoryRepository(clock.time)


@pytest.fixture
def config(tmp_path: Path) -> Settings:
    return settings.parse({"drop": {"path": str(tmp_path / "drop")}}, base=tmp_path, env={})
