"""metric_blocks without foreign keys on PostgreSQL

Revision ID: tb0006
Revises: tb0005
Create Date: 2026-12-05 17:00:00

On PostgreSQL, drops the two foreign keys of ``metric_blocks`` (``run_num -> runs.num`` ON
DELETE CASCADE, ``key_id -> metric_keys.id``), as tb0004 did for ``metrics``: PostgreSQL checks
each with one query per upserted block (a 100,000-point batch has 1,563 blocks), about half of
the time the blocks take to write (bench/README.md, "PostgreSQL"). ``metric_blocks`` is derived
from ``metrics`` (``trialbook db upgrade`` can rebuild it), and its rows are written in the
same transaction as the points they summarise, with the same run number and key ids. Dropping
a constraint changes no row: the upgrade is instant.

On SQLite nothing changes but the recorded revision.

The constraints are found by their columns in the database, not by name (see tb0004).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tb0006"
down_revision = "tb0005"
branch_labels = None
depends_on = None

#: The foreign keys of ``metric_blocks`` this revision drops: (columns, referred table).
_KEYS = ((("run_num",), "runs"), (("key_id",), "metric_keys"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for fk in sa.inspect(bind).get_foreign_keys("metric_blocks"):
        found = (tuple(fk["constrained_columns"]), fk["referred_table"])
        name = fk["name"]  # PostgreSQL names every constraint
        if name and found in _KEYS:
            op.drop_constraint(name, "metric_blocks", type_="foreignkey")


def downgrade() -> None:
    """Adds the keys back on PostgreSQL; that checks every block, and fails if one names a run
    or metric key that no longer exists (after a hand-written ``DELETE FROM runs``)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.create_foreign_key(
        op.f("fk_metric_blocks_run_num_runs"),
        "metric_blocks",
        "runs",
        ["run_num"],
        ["num"],
        ondelete="CASCADE",
    )
    op.create_foreign_key(
        op.f("fk_metric_blocks_key_id_metric_keys"),
        "metric_blocks",
        "metric_keys",
        ["key_id"],
        ["id"],
    )
