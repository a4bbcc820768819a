"""Migration 0003 on a real SQLite file that already holds tasks: additive, old rows keep
every value and read as chat imports through `/imports` (product NULL)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy
from alembic import command
from alembic.config import Config

from streamdrop.storage import db
from streamdrop.storage.repository import Repository
from streamdrop.testing import FakeClock

pytestmark = pytest.mark.anyio
BEFORE = "0002_daemons"


def upgrade_to(path: Path, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.migrations_dir()))
    config.set_main_option("path_separator", "os")
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


async def test_tasks_from_before_the_product_column_read_as_chat_imports(
        tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "old.db"
    upgrade_to(path, BEFORE)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO tasks (identity, sha256, params_digest, target, mode, format, params,"
            " rule, state, attempts, fence, source_path, rel_path, size, mtime_ns,"
            " stuck_announced, remote_path, import_id, import_state, found_at, created_at,"
            " updated_at) VALUES ('i', 's', 'p', 'default', 'upsert', 'auto', '{}', '**',"
            " 'importing', 1, 3, '/d/a.jsonl', 'a.jsonl', 10, 1, 0, 's3://x/a.jsonl', 'imp-1',"
            " 'analyzing', 1.0, 1.0, 1.0)")
    url = f"sqlite+aiosqlite:///{path}"
    assert await db.upgrade(url) == db.head_revision()  # through 0003, to the newest
    engine = db.make_engine(url)
    try:
        task = await Repository(engine, clock.time).get(1)
    finally:
        await engine.dispose()
    assert (task.product, task.import_id, task.remote_path, task.fence) == (
        None, "imp-1", "s3://x/a.jsonl", 3)
