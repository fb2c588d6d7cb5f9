"""The shipped Alembic migrations, the schema the code expects, and how connect() checks them."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from trialbook.errors import (
    NotATrialbookDatabase,
    SchemaVersionError,
    WorkspaceError,
)
from trialbook.store import SCHEMA_REVISION, NewRun, connect, upgrade
from trialbook.store._schema import KNOWN_REVISIONS, metadata


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "trialbook.store:_migrations")
    return cfg


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def schema_diff(url: str) -> list[Any]:
    """What autogenerate would change to make the database at ``url`` match the metadata."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def reflect(url: str) -> dict[str, Any]:
    """Tables, columns, keys and indexes as the database reports them."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            insp = inspect(conn)
            return {
                table: {
                    "columns": [
                        (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)
                    ],
                    "pk": insp.get_pk_constraint(table)["constrained_columns"],
                    "fks": sorted(
                        (
                            tuple(fk["constrained_columns"]),
                            fk["referred_table"],
                            tuple(fk["referred_columns"]),
                            fk.get("options", {}).get("ondelete"),
                        )
                        for fk in insp.get_foreign_keys(table)
                    ),
                    "indexes": sorted(
                        (ix["name"], tuple(ix["column_names"]), bool(ix["unique"]))
                        for ix in insp.get_indexes(table)
                    ),
                    "uniques": sorted(
                        tuple(u["column_names"]) for u in insp.get_unique_constraints(table)
                    ),
                }
                for table in sorted(insp.get_table_names())
            }
    finally:
        engine.dispose()


def create_with_connect(path: Path) -> str:
    url = sqlite_url(path)
    connect(url, create=True).close()
    return url


def create_with_migrations(path: Path) -> str:
    sqlite3.connect(path).close()  # an empty SQLite file
    url = sqlite_url(path)
    assert upgrade(url) == (None, SCHEMA_REVISION)
    return url


def add_run(url: str, run_id: str = "20260101_120000_aaaaaa") -> None:
    store = connect(url)
    try:
        store.create_run(
            NewRun(
                id=run_id,
                experiment="exp",
                name="run",
                config={"lr": 0.1},
                config_hash="h",
                group_key="g",
                status="completed",
                started_at=time.time(),
            )
        )
        assert store.get_run(run_id).status == "completed"
    finally:
        store.close()


# ---------------------------------------------------------------------- revisions
def test_schema_revision_is_the_head_of_the_shipped_migrations() -> None:
    script = ScriptDirectory.from_config(alembic_config())

    assert script.get_heads() == [SCHEMA_REVISION]


def test_known_revisions_are_the_whole_history_oldest_first() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    history = [rev.revision for rev in script.walk_revisions(base="base", head="heads")]

    assert tuple(reversed(history)) == KNOWN_REVISIONS
    assert KNOWN_REVISIONS[-1] == SCHEMA_REVISION


# ---------------------------------------------------------------------- two creation paths
@pytest.mark.parametrize("create", [create_with_connect, create_with_migrations])
def test_a_new_database_matches_the_metadata(create: Callable[[Path], str], tmp_path: Path) -> None:
    url = create(tmp_path / "trialbook.db")

    assert schema_diff(url) == []
    add_run(url)


def test_both_creation_paths_build_the_same_schema(tmp_path: Path) -> None:
    by_connect = reflect(create_with_connect(tmp_path / "connect.db"))
    by_migrations = reflect(create_with_migrations(tmp_path / "migrations.db"))

    assert by_connect == by_migrations
    assert set(by_connect) == set(metadata.tables) | {"alembic_version"}


# ---------------------------------------------------------------------- older schema
def test_a_database_behind_the_code_is_refused_until_upgraded(tmp_path: Path) -> None:
    url = create_with_connect(tmp_path / "trialbook.db")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "base")
    finally:
        engine.dispose()

    with pytest.raises(SchemaVersionError, match="trialbook db upgrade"):
        connect(url)

    assert upgrade(url) == (None, SCHEMA_REVISION)
    assert schema_diff(url) == []
    add_run(url)


def test_upgrade_of_a_current_database_changes_nothing(tmp_path: Path) -> None:
    url = create_with_connect(tmp_path / "trialbook.db")
    add_run(url)

    assert upgrade(url) == (SCHEMA_REVISION, SCHEMA_REVISION)
    add_run(url, "20260101_120000_bbbbbb")


# ---------------------------------------------------------------------- refusals
def make_newer(path: Path) -> None:
    create_with_connect(path)
    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE alembic_version SET version_num = 'tb9999'")
    db.close()


def make_foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        db.execute("INSERT INTO invoices (total) VALUES (9.5)")
    db.close()


def make_random(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def make_nothing(path: Path) -> None:
    pass


def make_empty_file(path: Path) -> None:
    path.write_bytes(b"")


REFUSALS = {
    # name: (make the file, connect's create flag, error, words in the message)
    "newer": (make_newer, False, SchemaVersionError, "newer trialbook"),
    "newer-create": (make_newer, True, SchemaVersionError, "newer trialbook"),
    "foreign": (make_foreign, False, NotATrialbookDatabase, "did not create"),
    "foreign-create": (make_foreign, True, NotATrialbookDatabase, "did not create"),
    "random-bytes": (make_random, False, NotATrialbookDatabase, "not a SQLite database"),
    "random-bytes-create": (make_random, True, NotATrialbookDatabase, "not a SQLite database"),
    "missing": (make_nothing, False, WorkspaceError, "No trialbook database"),
    "empty-file": (make_empty_file, False, SchemaVersionError, "trialbook db upgrade"),
}

UNTOUCHED_CASES = list(REFUSALS)


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_connect_refuses_with_a_message_that_says_why(case: str, tmp_path: Path) -> None:
    make, create, error, words = REFUSALS[case]
    path = tmp_path / "trialbook.db"
    make(path)

    with pytest.raises(error, match=words):
        connect(sqlite_url(path), create=create)


@pytest.mark.parametrize("case", UNTOUCHED_CASES)
def test_a_refused_database_is_left_untouched(case: str, tmp_path: Path) -> None:
    make, create, error, _ = REFUSALS[case]
    path = tmp_path / "trialbook.db"
    make(path)
    before = snapshot(tmp_path)

    with pytest.raises(error):
        connect(sqlite_url(path), create=create)

    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (make_newer, SchemaVersionError),
        (make_foreign, NotATrialbookDatabase),
        (make_random, NotATrialbookDatabase),
        (make_nothing, WorkspaceError),
    ],
)
def test_upgrade_refuses_what_it_cannot_migrate(
    make: Callable[[Path], None], error: type[Exception], tmp_path: Path
) -> None:
    path = tmp_path / "trialbook.db"
    make(path)

    with pytest.raises(error):
        upgrade(sqlite_url(path))
