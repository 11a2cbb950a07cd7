"""The case database's tables as they stand at the newest migration (SQLAlchemy Core).

Queries use these; the migrations in ``migrations/versions`` build them step by step, and a
test checks that the two agree.  Dates are stored in UTC; lists (hosts, clusters, VMs) and the
configuration findings as JSON text, so that the same schema runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

analyses = sa.Table(
    "analyses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(200), nullable=False, index=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    # sha256 over the sorted content hashes of the inputs: the same inputs again are a no-op
    sa.Column("inputs_digest", sa.String(64), nullable=False),
    sa.Column("migdiag_version", sa.String(40), nullable=False),
    sa.Column("first_event", sa.DateTime(timezone=True)),
    sa.Column("last_event", sa.DateTime(timezone=True)),
    sa.Column("hosts", sa.Text, nullable=False),  # JSON list of short host names
    sa.Column("clusters", sa.Text, nullable=False),  # JSON list
    sa.Column("vms", sa.Text, nullable=False),  # JSON list
    sa.Column("configuration", sa.Text),  # JSON: the analysis' configuration findings, if any
    sa.UniqueConstraint("case_id", "inputs_digest", name="uq_analyses_case_inputs"),
)

inputs = sa.Table(
    "inputs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "analysis_id",
        sa.Integer,
        sa.ForeignKey("analyses.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("path", sa.Text, nullable=False),  # as the user named it; contents never stored
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
)

case_migrations = sa.Table(
    "case_migrations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "analysis_id",
        sa.Integer,
        sa.ForeignKey("analyses.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("case_id", sa.String(200), nullable=False, index=True),
    sa.Column("migration_key", sa.String(200), nullable=False),
    sa.Column("vm_name", sa.String(200)),
    sa.Column("vm_id", sa.String(64)),
    sa.Column("source", sa.String(200)),
    sa.Column("destination", sa.String(200)),
    sa.Column("cluster", sa.String(200)),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("started", sa.DateTime(timezone=True)),
    sa.Column("ended", sa.DateTime(timezone=True)),
    sa.Column("cause", sa.String(100)),  # migdiag's top cause; NULL when nothing matched
    sa.Column("signature_id", sa.String(100)),
    sa.Column("confidence", sa.Float),
    sa.Column("codes", sa.Text, nullable=False),  # " 0x8007274C 0x80072746 " (word search)
    sa.Index("ix_case_migrations_cause", "cause"),
    sa.Index("ix_case_migrations_hosts", "source", "destination"),
)

confirmations = sa.Table(
    "confirmations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("case_id", sa.String(200), nullable=False, index=True),
    sa.Column("vm", sa.String(200), nullable=False),  # VM name (or id) as the engineer gave it
    sa.Column("cause", sa.String(100), nullable=False),
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text),  # since migration 0002
)
