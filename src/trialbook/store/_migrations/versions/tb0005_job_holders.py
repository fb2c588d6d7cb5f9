"""job holders: who follows a run's job in a queueing backend

Revision ID: tb0005
Revises: tb0004
Create Date: 2026-12-05 14:00:00

Adds ``job_holders``: for a run whose process is a job in a queueing backend (Slurm), the
runner that follows the job (host, pid, its start time), its heartbeat, and whether it let
the job go (``trialbook run --detach``). A later runner takes a job over (adopts it) by one
conditional update of its row, so that of several runners started together exactly one
follows each job; a runner on another host counts as gone when its heartbeat is older than
``TRIALBOOK_HEARTBEAT_GRACE``. The table starts empty: the jobs of runs submitted before the
upgrade are still found by their ``job.json``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tb0005"
down_revision = "tb0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_holders",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("pid_started_at", sa.Double(), nullable=True),
        sa.Column("heartbeat_at", sa.Double(), nullable=False),
        sa.Column("detached", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_job_holders_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_job_holders")),
    )
    op.create_index(op.f("ix_job_holders_host_pid"), "job_holders", ["host", "pid"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_job_holders_host_pid"), table_name="job_holders")
    op.drop_table("job_holders")
