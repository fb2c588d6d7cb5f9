"""The two foreign keys of a table of points (``metrics``, ``metric_blocks``) that schema
tb0004 and tb0006 drop on PostgreSQL: ``run_num -> runs.num`` ON DELETE CASCADE and
``key_id -> metric_keys.id``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: (columns, referred table) of the two keys.
_KEYS = ((("run_num",), "runs"), (("key_id",), "metric_keys"))


def drop_point_keys(table: str) -> None:
    """Drop the two keys of ``table`` on PostgreSQL (nothing elsewhere). They are found by
    their columns, not by name: a database whose schema an older ``create_all`` made may name
    them differently from the migrations."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for fk in sa.inspect(bind).get_foreign_keys(table):
        found = (tuple(fk["constrained_columns"]), fk["referred_table"])
        name = fk["name"]  # PostgreSQL names every constraint
        if name and found in _KEYS:
            op.drop_constraint(name, table, type_="foreignkey")


def add_point_keys(table: str) -> None:
    """Add the two keys of ``table`` back on PostgreSQL (nothing elsewhere); that checks every
    row, and fails if one names a run or metric key that no longer exists (after a
    hand-written ``DELETE FROM runs``)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.create_foreign_key(
        op.f(f"fk_{table}_run_num_runs"), table, "runs", ["run_num"], ["num"], ondelete="CASCADE"
    )
    op.create_foreign_key(
        op.f(f"fk_{table}_key_id_metric_keys"), table, "metric_keys", ["key_id"], ["id"]
    )
