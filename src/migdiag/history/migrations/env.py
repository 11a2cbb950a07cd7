"""Alembic's entry point: always given an open connection by migdiag.history.database."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
# The caller holds the transaction (and, on SQLite, the write lock) around the whole upgrade:
# begin_transaction() joins it instead of committing on its own.
with context.begin_transaction():
    context.run_migrations()
