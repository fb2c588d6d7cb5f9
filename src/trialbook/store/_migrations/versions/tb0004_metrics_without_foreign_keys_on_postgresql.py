"""metrics without foreign keys on PostgreSQL

Revision ID: tb0004
Revises: tb0003
Create Date: 2026-12-05 12:00:00

On PostgreSQL, drops the two foreign keys of ``metrics`` (``run_num -> runs.num`` ON DELETE
CASCADE, ``key_id -> metric_keys.id``): PostgreSQL checks each with one query per inserted
point, most of the time a COPY of points takes (bench/README.md, "PostgreSQL"). trialbook never
deletes runs or metric keys, and its writer inserts points only with the run number and key
ids it read or created in the same transaction, so the keys guarded nothing it does. Dropping
a constraint changes no row: the upgrade is instant whatever the number of points.

On SQLite nothing changes (its checks are cheap, and dropping them would rebuild the table).

The constraints are found by their columns in the database, not by name: a database whose
schema was created by an older ``create_all`` may name them differently from the migrations.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tb0004"
down_revision = "tb0003"
branch_labels = None
depends_on = None

#: The foreign keys of ``metrics`` this revision drops: (columns, referred table).
_KEYS = ((("run_num",), "runs"), (("key_id",), "metric_keys"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for fk in sa.inspect(bind).get_foreign_keys("metrics"):
        found = (tuple(fk["constrained_columns"]), fk["referred_table"])
        name = fk["name"]  # PostgreSQL names every constraint
        if name and found in _KEYS:
            op.drop_constraint(name, "metrics", type_="foreignkey")


def downgrade() -> None:
    """Adds the keys back on PostgreSQL; that checks every point, and fails if one names a run
    or metric key that no longer exists (after a hand-written ``DELETE FROM runs``)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.create_foreign_key(
        op.f("fk_metrics_run_num_runs"), "metrics", "runs", ["run_num"], ["num"], ondelete="CASCADE"
    )
    op.create_foreign_key(
        op.f("fk_metrics_key_id_metric_keys"), "metrics", "metric_keys", ["key_id"], ["id"]
    )
