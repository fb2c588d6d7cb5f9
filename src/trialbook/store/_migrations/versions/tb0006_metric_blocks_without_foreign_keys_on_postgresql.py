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

from trialbook.store._migrations._point_keys import add_point_keys, drop_point_keys

revision = "tb0006"
down_revision = "tb0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_point_keys("metric_blocks")


def downgrade() -> None:
    """Adds the keys back on PostgreSQL; that checks every row, and fails if one names a run
    or metric key that no longer exists (after a hand-written ``DELETE FROM runs``)."""
    add_point_keys("metric_blocks")
