"""metric blocks for drawing long histories

Revision ID: tb0003
Revises: tb0002
Create Date: 2026-12-05 09:30:00

Adds ``metric_blocks``: one row per 64 consecutive logged points of a run's metric (first and
last step, min, max, count, last point), kept by the writer next to the points. A long
history is reduced for a chart from these rows instead of from every point (see
``trialbook/store/_buckets.py``). The upgrade computes the blocks of the points already
stored; it reads every point once (about a second per million points).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from trialbook.store._dialect import rebuild_blocks

revision = "tb0003"
down_revision = "tb0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_blocks",
        sa.Column("run_num", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("key_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("block", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_step", sa.BigInteger(), nullable=False),
        sa.Column("last_step", sa.BigInteger(), nullable=False),
        sa.Column("min", sa.Double(), nullable=True),
        sa.Column("max", sa.Double(), nullable=True),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last", sa.Double(), nullable=True),
        sa.Column("last_time", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["key_id"], ["metric_keys.id"], name=op.f("fk_metric_blocks_key_id_metric_keys")
        ),
        sa.ForeignKeyConstraint(
            ["run_num"],
            ["runs.num"],
            name=op.f("fk_metric_blocks_run_num_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_num", "key_id", "block", name=op.f("pk_metric_blocks")),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    dbapi_conn = bind.connection.dbapi_connection
    assert dbapi_conn is not None
    rebuild_blocks(dbapi_conn, bind.dialect.name)


def downgrade() -> None:
    op.drop_table("metric_blocks")
