"""A throwaway PostgreSQL server for tests: `initdb` + `pg_ctl` in a temporary folder.

    with temporary_cluster() as base_url:   # postgresql+asyncpg://streamdrop@127.0.0.1:PORT
        url = base_url + "/postgres"

Uses the newest /usr/lib/postgresql/*/bin (Debian's layout) or $PG_BINDIR;
raises ClusterUnavailable when there are none. As root, the cluster runs as
the `postgres` user (initdb refuses root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server binaries (or no user to run them as)."""


def find_bindir() -> Path:
    given = os.environ.get("PG_BINDIR")
    if given and (Path(given) / "initdb").exists():
        return Path(given)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not found:
        raise ClusterUnavailable("no PostgreSQL binaries under /usr/lib/postgresql/*/bin "
                                 "(install Debian's postgresql package, or set PG_BINDIR)")
    return Path(found[-1]).parent


def _run_as() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ClusterUnavailable("running as root, and no `postgres` user to run a cluster as"
                                 ) from exc
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def temporary_cluster() -> Iterator[str]:
    """Start a cluster on a free loopback port; yields its base URL (no database name)."""
    bindir, prefix = find_bindir(), _run_as()
    root = Path(tempfile.mkdtemp(prefix="streamdrop-pg-"))
    if prefix:
        shutil.chown(root, "postgres", "postgres")
    data, port = root / "data", _free_port()
    try:
        subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "streamdrop",
                        "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
        options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root} -F"
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-w",
                        "-l", str(root / "log"), "start"], check=True, capture_output=True)
        yield f"postgresql+asyncpg://streamdrop@127.0.0.1:{port}"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


async def create_database(base_url: str, name: str) -> str:
    """Create database `name` on the server; returns its SQLAlchemy URL."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(base_url + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await engine.dispose()
    return f"{base_url}/{name}"


TEST_URL_ENV = "STREAMDROP_TEST_POSTGRES_URL"


@contextlib.contextmanager
def server_for_tests(env: Mapping[str, str] | None = None) -> Iterator[str]:
    """A base URL (no database name) for a test session: the server of
    $STREAMDROP_TEST_POSTGRES_URL when set, else a throwaway cluster (ClusterUnavailable
    when there are no binaries)."""
    given = (os.environ if env is None else env).get(TEST_URL_ENV)
    if given:
        yield given.rsplit("/", 1)[0]
        return
    with temporary_cluster() as base_url:
        yield base_url
