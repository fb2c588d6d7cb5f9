"""The shipped migrations on PostgreSQL: a database they build, or upgrade from an older
revision, has the schema a new database gets, down to ``metrics`` (tb0004) and
``metric_blocks`` (tb0006) without foreign keys (PostgreSQL only: SQLite keeps them).

Runs on the session's real PostgreSQL server (``postgres_server`` in tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from test_migrations import alembic_config, create_with_connect, reflect

from trialbook.store import SCHEMA_REVISION, connect, upgrade
from trialbook.testing.stores import new_postgres_database

RUN = "20260101_120000_aaaaaa"
#: The foreign keys tb0004 drops on PostgreSQL, as ``reflect`` lists them.
METRICS_KEYS = [
    (("key_id",), "metric_keys", ("id",), None),
    (("run_num",), "runs", ("num",), "CASCADE"),
]


def execute(url: str, *statements: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            results = [conn.execute(text(sql)) for sql in statements]
            return [r.all() if r.returns_rows else None for r in results]
    finally:
        engine.dispose()


def at_tb0003_with_points(server: str) -> str:
    """A PostgreSQL database migrated to tb0003, holding a run with three points."""
    url = new_postgres_database(server)
    upgrade(url, "tb0003")
    execute(
        url,
        "INSERT INTO experiments (id, name, created_at) VALUES (1, 'e', 0)",
        "INSERT INTO runs (num, id, experiment_id, name, status, config, config_hash, group_key,"
        f" tags) VALUES (1, '{RUN}', 1, 'r', 'completed', '{{}}', 'h', 'g', '[]')",
        "INSERT INTO metric_keys (id, name) VALUES (1, 'loss')",
        "INSERT INTO metrics (run_num, key_id, step, value, time) VALUES"
        " (1, 1, 0, 3.0, 1), (1, 1, 1, 2.0, 2), (1, 1, 2, 1.0, 3)",
    )
    return url


def test_a_migrated_postgresql_database_has_the_schema_of_a_new_one(
    postgres_server: str,
) -> None:
    fresh = new_postgres_database(postgres_server)
    connect(fresh, create=True).close()
    migrated = new_postgres_database(postgres_server)
    assert upgrade(migrated) == (None, SCHEMA_REVISION)

    by_connect, by_migrations = reflect(fresh), reflect(migrated)
    assert by_connect == by_migrations
    assert by_connect["metrics"]["fks"] == []
    assert by_connect["metric_blocks"]["fks"] == []
    # Every other table keeps its keys (the summaries, for one, point at runs).
    assert [fk[1] for fk in by_connect["metric_summary"]["fks"]] == ["runs"]


def test_sqlite_keeps_the_foreign_keys_of_metrics_and_blocks(tmp_path: Path) -> None:
    url = create_with_connect(tmp_path / "trialbook.db")

    assert reflect(url)["metrics"]["fks"] == METRICS_KEYS
    assert reflect(url)["metric_blocks"]["fks"] == METRICS_KEYS


def at_tb0005_with_blocks(server: str) -> str:
    """A PostgreSQL database migrated to tb0005 holding a run with three points and their
    block (written by the Store of that schema's shape: the keys of metric_blocks in place)."""
    url = at_tb0003_with_points(server)
    upgrade(url, "tb0005")
    execute(
        url,
        'INSERT INTO metric_blocks (run_num, key_id, block, first_step, last_step, "min", "max",'
        ' "count", "last", last_time) VALUES (1, 1, 0, 0, 2, 1.0, 3.0, 3, 1.0, 3)',
    )
    return url


#: Per table whose two keys a revision drops on PostgreSQL: the revision before it, and a
#: database at that revision holding a run's points.
DROPPED = {
    "metrics": ("tb0003", at_tb0003_with_points),  # tb0004
    "metric_blocks": ("tb0005", at_tb0005_with_blocks),  # tb0006
}


@pytest.mark.parametrize("names", ["migrations", "postgresql-defaults"])
@pytest.mark.parametrize("table", list(DROPPED))
def test_upgrade_drops_the_keys_of_the_point_tables_whatever_they_are_named(
    postgres_server: str, table: str, names: str
) -> None:
    before, make = DROPPED[table]
    url = make(postgres_server)
    if names == "postgresql-defaults":  # as a create_all without the naming convention made
        execute(
            url,
            f"ALTER TABLE {table} RENAME CONSTRAINT fk_{table}_run_num_runs "
            f"TO {table}_run_num_fkey",
            f"ALTER TABLE {table} RENAME CONSTRAINT fk_{table}_key_id_metric_keys "
            f"TO {table}_key_id_fkey",
        )
    assert reflect(url)[table]["fks"] == METRICS_KEYS

    assert upgrade(url) == (before, SCHEMA_REVISION)

    fresh = new_postgres_database(postgres_server)
    connect(fresh, create=True).close()
    assert reflect(url) == reflect(fresh)
    with connect(url) as store:
        assert store.metric_history(RUN, "loss").values == (3.0, 2.0, 1.0)
        store.log_metric_columns(RUN, {"loss": ([3], [0.5], [4.0])})
        assert store.metric_history(RUN, "loss").steps == (0, 1, 2, 3)
    if table == "metric_blocks":  # the block written before the upgrade took the new point
        blocks = execute(url, 'SELECT "count", "min", last_step FROM metric_blocks')
        assert blocks == [[(4, 0.5, 3)]]


@pytest.mark.parametrize("table", list(DROPPED))
def test_downgrade_adds_the_keys_of_the_point_tables_back(postgres_server: str, table: str) -> None:
    before, make = DROPPED[table]
    url = make(postgres_server)
    rows = execute(url, f"SELECT count(*) FROM {table}")
    upgrade(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, before)
    finally:
        engine.dispose()

    assert reflect(url)[table]["fks"] == METRICS_KEYS
    assert execute(url, f"SELECT count(*) FROM {table}") == rows
