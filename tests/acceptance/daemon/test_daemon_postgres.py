"""Two daemons on one PostgreSQL database and one drop folder: each file imported once."""

from __future__ import annotations

import uuid
from collections import Counter

import anyio
import pytest
from daemon_harness import Setup, chat_file, drop, imported_sha256s, sha256
from tests.pgcluster import create_database


@pytest.mark.slow
@pytest.mark.postgres
def test_two_daemons_on_one_database_import_each_file_once(
        setup: Setup, postgres_server: str) -> None:
    url = anyio.run(create_database, postgres_server, "t_" + uuid.uuid4().hex[:12])
    setup.sections["database"]["url"] = url
    setup.sections["stream"]["max_active_imports"] = 2
    setup.write()
    files = {f"p{n}.jsonl": chat_file(200 + n) for n in range(8)}
    for rel, data in files.items():
        drop(setup.drop, rel, data)
    first, second = setup.start("--once"), setup.start("--once")
    assert first.wait(timeout=120) == 0
    assert second.wait(timeout=120) == 0
    assert Counter(imported_sha256s(setup.emulator)) == Counter(
        {sha256(d): 1 for d in files.values()})
    tasks = setup.tasks()
    assert sorted(t["state"] for t in tasks) == ["completed"] * len(files)
