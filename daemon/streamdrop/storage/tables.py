"""The database schema as SQLAlchemy 2 models (queries live in `repository`).

Times are stored as Unix seconds (float): the same on SQLite and PostgreSQL,
no naive/aware datetime traps, and cheap to compare in SQL.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Task(Base):
    """One file taken for one import."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # sha256 + every import parameter; NULL on duplicate rows, which point at the original.
    identity: Mapped[str | None] = mapped_column(String(64), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    params_digest: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(10))
    merge_custom: Mapped[bool | None] = mapped_column(Boolean)
    format: Mapped[str] = mapped_column(String(20))
    params: Mapped[str] = mapped_column(Text)  # JSON: the matched rule's settings
    rule: Mapped[str] = mapped_column(Text)  # the glob that matched
    state: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[float | None] = mapped_column(Double)
    fence: Mapped[int] = mapped_column(BigInteger, default=0)
    next_attempt_at: Mapped[float | None] = mapped_column(Double)
    source_path: Mapped[str] = mapped_column(Text)
    rel_path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    dest_path: Mapped[str | None] = mapped_column(Text)
    remote_path: Mapped[str | None] = mapped_column(Text)
    import_id: Mapped[str | None] = mapped_column(String(100))
    import_state: Mapped[str | None] = mapped_column(String(50))
    import_state_since: Mapped[float | None] = mapped_column(Double)
    next_poll_at: Mapped[float | None] = mapped_column(Double)
    poll_interval: Mapped[float | None] = mapped_column(Double)
    stuck_announced: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    # A part of a file split for Stream's size cap: the file's task, and its place (1, 2, ...).
    batch_id: Mapped[int | None] = mapped_column(Integer, index=True)
    part_number: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)  # last error, one line
    # Set while a finished task's file waits for its move (a full disk): why it failed.
    move_error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[str | None] = mapped_column(Text)  # JSON: validation or Stream result
    found_at: Mapped[float] = mapped_column(Double)
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double)
    # Which import API holds the import: NULL chat `/imports`, `feeds` Import V2 (0003).
    product: Mapped[str | None] = mapped_column(String(10))

    __table_args__ = (Index("ix_tasks_target_order", "target", "state", "found_at", "rel_path"),)


class Event(Base):
    """One row per state change of a task."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    at: Mapped[float] = mapped_column(Double)
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))


class Outbox(Base):
    """Notifications to deliver at least once."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    kind: Mapped[str] = mapped_column(String(30))  # imported, invalid, failed, stuck, ready
    payload: Mapped[str] = mapped_column(Text)  # JSON
    urls: Mapped[str] = mapped_column(Text)  # JSON list of apprise URLs
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[float] = mapped_column(Double, index=True)
    delivered_at: Mapped[float | None] = mapped_column(Double)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Double)


class Target(Base):
    """Per-target flags shared by every daemon; also the lock row serialising claims."""

    __tablename__ = "targets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[float] = mapped_column(Double)


class Daemon(Base):
    """A daemon that uses this database, with its heartbeat (for `streamdrop status`)."""

    __tablename__ = "daemons"

    owner: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    version: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[float] = mapped_column(Double)
    heartbeat_at: Mapped[float] = mapped_column(Double)
    stopped_at: Mapped[float | None] = mapped_column(Double)


tasks = cast(Table, Task.__table__)
events = cast(Table, Event.__table__)
outbox = cast(Table, Outbox.__table__)
targets = cast(Table, Target.__table__)
daemons = cast(Table, Daemon.__table__)
