"""Alembic environment: streamdrop hands it an open connection (see streamdrop.storage.db.upgrade).

Run `streamdrop db upgrade --config FILE` rather than the `alembic` command: it
takes the lock that keeps two daemons from migrating at once.
"""

from __future__ import annotations

from alembic import context

from streamdrop.storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `streamdrop db upgrade`, which passes a connection")

# transactional_ddl: on SQLite too, so that a daemon killed halfway leaves no half schema.
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    transactional_ddl=True,
    transaction_per_migration=True,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
