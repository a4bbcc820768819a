"""Fixtures for the daemon's integration tests: a fake clock, a SQLite file, or a database
on the session's PostgreSQL server (`postgres_server`, in tests/conftest.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from tests.pgcluster import create_database

from streamdrop.testing import FakeClock


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'streamdrop.db'}"


@pytest.fixture
async def postgres_url(postgres_server: str) -> str:
    """A fresh database on the session's server."""
    return await create_database(postgres_server, "t_" + uuid.uuid4().hex[:12])
