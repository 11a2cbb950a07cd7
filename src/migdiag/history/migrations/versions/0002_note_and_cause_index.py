"""The engineer's note on a confirmation; indexes for `causes` and "seen before".

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("confirmations", sa.Column("note", sa.Text))
    op.create_index("ix_case_migrations_cause", "case_migrations", ["cause"])
    op.create_index("ix_case_migrations_hosts", "case_migrations", ["source", "destination"])


def downgrade() -> None:
    op.drop_index("ix_case_migrations_hosts", "case_migrations")
    op.drop_index("ix_case_migrations_cause", "case_migrations")
    with op.batch_alter_table("confirmations") as batch:
        batch.drop_column("note")
