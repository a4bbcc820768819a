"""Database engines and schema upgrades: SQLite (WAL, busy timeout, BEGIN IMMEDIATE) or PostgreSQL.

On SQLite every write transaction starts with `BEGIN IMMEDIATE`, so a writer
takes the write lock up front and waits (busy_timeout) instead of failing
halfway with "database is locked"; read-only transactions use a plain BEGIN
and, in WAL mode, never wait for writers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import weakref
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "streamdrop_read_only"  # execution option: this transaction only reads
# Any fixed 64-bit number: the PostgreSQL advisory lock that serialises upgrades.
MIGRATION_LOCK_KEY = 0x5D_5D_0001


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str) -> Path | None:
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


def missing_database(url: str) -> Path | None:
    """The file of a SQLite URL when it does not exist (yet): only `run` and `db upgrade`
    create one; the others must not leave an empty database where a typo pointed."""
    path = sqlite_path(url) if is_sqlite(url) else None
    return path if path is not None and not path.exists() else None


def create_private(path: Path) -> None:
    """Create the SQLite file 0600 less the umask before SQLite does (it would make it 0644);
    its -wal and -shm files take the database's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))


def file_identity(url: str) -> tuple[int, int] | None:
    """The SQLite file's (st_dev, st_ino): another pair means another file at that path.
    None for PostgreSQL and in-memory databases; FileNotFoundError when it is gone."""
    path = sqlite_path(url) if is_sqlite(url) else None
    if path is None:
        return None
    stat = path.stat()
    return stat.st_dev, stat.st_ino


def make_engine(url: str) -> AsyncEngine:
    if not is_sqlite(url):
        return create_async_engine(url, pool_pre_ping=True)
    path = sqlite_path(url)
    if path is not None:
        create_private(path)
    engine = create_async_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    _install_sqlite_hooks(engine)
    return engine


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin (below) issue BEGIN, not the sqlite3 module's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


# SQLite has one writer at a time, and a connection that finds the write lock taken
# sleeps in SQLite's busy handler (up to 100 ms a try) however soon it is free: with a
# few workers that was most of the daemon's time. Writers of this process on one engine
# queue on a lock instead and are woken at once; busy_timeout still covers other
# processes (ops commands, a second daemon). PostgreSQL locks rows: no queue there.
_sqlite_writers: weakref.WeakKeyDictionary[AsyncEngine, anyio.Lock] = (
    weakref.WeakKeyDictionary())


@contextlib.asynccontextmanager
async def writer_turn(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold this process's turn to write through `engine` (a no-op off SQLite)."""
    if engine.dialect.name != "sqlite":
        yield
        return
    lock = _sqlite_writers.get(engine)
    if lock is None:  # made on first use, inside the event loop that will use it
        lock = _sqlite_writers[engine] = anyio.Lock()
    async with lock:
        yield


def migrations_dir() -> Path:
    """The Alembic environment, from a wheel (package data) or a source checkout."""
    package = Path(__file__).resolve().parents[1]  # streamdrop/
    inside = package / "migrations"
    if (inside / "env.py").is_file():
        return inside
    checkout = package.parents[1] / "migrations"
    if (checkout / "env.py").is_file():
        return checkout
    raise FileNotFoundError("streamdrop's migrations are missing from this installation")


def _alembic_config(connection: Connection | None) -> Any:
    from alembic.config import Config  # only upgrades need alembic

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def _upgrade_sync(connection: Connection) -> None:
    from alembic import command

    command.upgrade(_alembic_config(connection), "head")


def _current_sync(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.asynccontextmanager
async def _migration_lock(url: str, engine: AsyncEngine) -> AsyncIterator[None]:
    path = sqlite_path(url)
    if is_sqlite(url):
        if path is None:
            yield
            return
        lock = _file_lock(path.with_name(path.name + ".migrate.lock"))
        await anyio.to_thread.run_sync(lock.__enter__)
        try:
            yield
        finally:
            lock.__exit__(None, None, None)
        return
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await conn.commit()
        try:
            yield
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"),
                               {"key": MIGRATION_LOCK_KEY})
            await conn.commit()


async def upgrade(url: str) -> str | None:
    """Apply pending migrations (one process at a time); returns the revision now current."""
    engine = make_engine(url)
    try:
        async with _migration_lock(url, engine):
            async with engine.connect() as conn:
                await conn.run_sync(_upgrade_sync)
                await conn.commit()
            async with engine.connect() as conn:
                return await conn.run_sync(_current_sync)
    finally:
        await engine.dispose()


def upgrade_blocking(url: str) -> str | None:
    """`upgrade` on an event loop of its own, for a worker thread: Alembic's work is
    blocking, and the caller's loop must keep answering (systemd's watchdog pings)."""
    return anyio.run(upgrade, url)


def head_revision() -> str | None:
    """The newest migration this installation has."""
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)
    return ScriptDirectory.from_config(config).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The migration the database is at (None: never migrated)."""
    async with engine.connect() as conn:
        return await conn.run_sync(_current_sync)


async def revision_of(url: str) -> str | None:
    """`current_revision` of the database at `url`, creating nothing (check SQLite files
    with `missing_database` first); raises what the driver raises when it is unreachable."""
    engine = make_engine(url)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()
