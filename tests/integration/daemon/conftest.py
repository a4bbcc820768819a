"""Fixtures for the daemon's integration tests: a SQLite file, or a database on the
session's PostgreSQL server (`postgres_server`, in tests/conftest.py)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.pgcluster import create_database

from streamdrop.storage import db
from streamdrop.storage.repository import Repository


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    """A settable clock for the repository (Unix seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'streamdrop.db'}"


@pytest.fixture
async def postgres_url(postgres_server: str) -> str:
    """A fresh database on the session's server."""
    return await create_database(postgres_server, "t_" + uuid.uuid4().hex[:12])


@pytest.fixture
async def repo(sqlite_url: str, clock: Clock) -> AsyncIterator[Repository]:
    await db.upgrade(sqlite_url)
    repository = Repository.from_url(sqlite_url, clock)
    yield repository
    await repository.close()


def wait_for(predicate: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
