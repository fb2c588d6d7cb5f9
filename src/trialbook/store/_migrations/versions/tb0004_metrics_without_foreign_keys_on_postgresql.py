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

from trialbook.store._migrations._point_keys import add_point_keys, drop_point_keys

revision = "tb0004"
down_revision = "tb0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    drop_point_keys("metrics")


def downgrade() -> None:
    """Adds the keys back on PostgreSQL; that checks every row, and fails if one names a run
    or metric key that no longer exists (after a hand-written ``DELETE FROM runs``)."""
    add_point_keys("metrics")
