"""Fixtures shared by the test tiers: one PostgreSQL server for the whole session."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import pytest
from tests.webhook import webhook  # noqa: F401 - a fixture for every tier

REQUIRE_ENV = "STREAMDROP_REQUIRE_POSTGRES"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A base URL (no database name) of a PostgreSQL server for this session:
    $STREAMDROP_TEST_POSTGRES_URL's, or a throwaway cluster. Without one the tests are
    skipped, or fail when $STREAMDROP_REQUIRE_POSTGRES is set (CI: a skip would hide them)."""
    from tests.pgcluster import ClusterUnavailable, server_for_tests

    with contextlib.ExitStack() as stack:
        try:
            base_url = stack.enter_context(server_for_tests())
        except ClusterUnavailable as exc:
            if os.environ.get(REQUIRE_ENV):
                pytest.fail(f"PostgreSQL is required here: {exc}")
            pytest.skip(str(exc))
        yield base_url
