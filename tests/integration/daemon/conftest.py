"""Fixtures for the daemon's integration tests: a SQLite file, or a throwaway PostgreSQL."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from streamdrop import db
from streamdrop.pgcluster import ClusterUnavailable, create_database, temporary_cluster
from streamdrop.repository import Repository


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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A base URL (no database name) of a PostgreSQL server for this test session."""
    given = os.environ.get("STREAMDROP_TEST_POSTGRES_URL")
    if given:
        yield given.rsplit("/", 1)[0]
        return
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
