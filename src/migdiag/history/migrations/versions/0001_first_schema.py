"""The first schema: analyses, their inputs and migrations, confirmations.

Revision ID: 0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("inputs_digest", sa.String(64), nullable=False),
        sa.Column("migdiag_version", sa.String(40), nullable=False),
        sa.Column("first_event", sa.DateTime(timezone=True)),
        sa.Column("last_event", sa.DateTime(timezone=True)),
        sa.Column("hosts", sa.Text, nullable=False),
        sa.Column("clusters", sa.Text, nullable=False),
        sa.Column("vms", sa.Text, nullable=False),
        sa.Column("configuration", sa.Text),
        sa.UniqueConstraint("case_id", "inputs_digest", name="uq_analyses_case_inputs"),
    )
    op.create_index("ix_analyses_case_id", "analyses", ["case_id"])
    op.create_table(
        "inputs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "analysis_id",
            sa.Integer,
            sa.ForeignKey("analyses.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_inputs_analysis_id", "inputs", ["analysis_id"])
    op.create_table(
        "case_migrations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "analysis_id",
            sa.Integer,
            sa.ForeignKey("analyses.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("migration_key", sa.String(200), nullable=False),
        sa.Column("vm_name", sa.String(200)),
        sa.Column("vm_id", sa.String(64)),
        sa.Column("source", sa.String(200)),
        sa.Column("destination", sa.String(200)),
        sa.Column("cluster", sa.String(200)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True)),
        sa.Column("ended", sa.DateTime(timezone=True)),
        sa.Column("cause", sa.String(100)),
        sa.Column("signature_id", sa.String(100)),
        sa.Column("confidence", sa.Float),
        sa.Column("codes", sa.Text, nullable=False),
    )
    op.create_index("ix_case_migrations_analysis_id", "case_migrations", ["analysis_id"])
    op.create_index("ix_case_migrations_case_id", "case_migrations", ["case_id"])
    op.create_table(
        "confirmations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(200), nullable=False),
        sa.Column("vm", sa.String(200), nullable=False),
        sa.Column("cause", sa.String(100), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_confirmations_case_id", "confirmations", ["case_id"])


def downgrade() -> None:
    for table in ("confirmations", "case_migrations", "inputs", "analyses"):
        op.drop_table(table)
