"""``trialbook stats`` and ``trialbook db upgrade|status``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cli_helpers import Cli, Runs, assert_user_error, store_location, table_row

from trialbook.store import SCHEMA_REVISION, safe_url

#: The tests of ``ws`` run on a SQLite and on a PostgreSQL index (see conftest.py).
WS_STORES = ("sqlite", "postgresql")


def test_stats_counts(cli: Cli, ws: Runs) -> None:
    result = cli("stats", "--root", ws.root)

    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert table_row(out, "runs")[1] == "3"
    assert table_row(out, "experiments")[1] == "2"
    assert table_row(out, "metric points")[1] == "15"  # 6 + 6 + 3
    assert table_row(out, "evaluations")[1] == "2"
    assert table_row(out, "samples")[1] == "4"
    assert table_row(out, "completed")[1] == "2"
    assert table_row(out, "failed")[1] == "1"
    assert table_row(out, "baseline")[1] == "2"
    assert table_row(out, "ablation")[1] == "1"
    assert table_row(out, "size")[1].endswith(("KiB", "MiB"))
    assert store_location(ws) in table_row(out, "url")[1]


def test_stats_json(cli: Cli, ws: Runs) -> None:
    result = cli("stats", "--root", ws.root, "--json")

    assert result.stderr == ""
    assert json.loads(result.stdout) == {
        "runs": 3,
        "runs_by_status": {"completed": 2, "failed": 1},
        "runs_by_experiment": {"ablation": 1, "baseline": 2},
        "metric_points": 15,
        "evaluations": 2,
        "samples": 4,
        "database_bytes": json.loads(result.stdout)["database_bytes"],
        "store_url": ws.store_url or f"sqlite:///{ws.root / 'trialbook.db'}",
    }
    assert json.loads(result.stdout)["database_bytes"] > 0


def test_stats_hides_a_password_in_the_store_url() -> None:
    assert safe_url("postgresql://me:s3cret@db/runs") == "postgresql://me:***@db/runs"


def test_db_upgrade_on_a_current_database_says_so(cli: Cli, ws: Runs) -> None:
    result = cli("db", "upgrade", "--root", ws.root)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        f"The database {store_location(ws)} is already at revision {SCHEMA_REVISION} (current)."
    )


def test_db_status(cli: Cli, ws: Runs) -> None:
    result = cli("db", "status", "--root", ws.root)

    assert result.exit_code == 0
    assert table_row(result.stdout, "revision")[1] == SCHEMA_REVISION
    assert table_row(result.stdout, "state")[1] == "current (up to date)"
    doc = json.loads(cli("db", "status", "--root", ws.root, "--json").stdout)
    assert doc["state"] == "current"
    assert doc["revision"] == doc["expected_revision"] == SCHEMA_REVISION


def test_empty_database_names_db_upgrade_which_then_creates_the_schema(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / "trialbook.db").write_bytes(b"")

    assert_user_error(cli("ls", "--root", tmp_path), "no trialbook tables", "trialbook db upgrade")
    assert json.loads(cli("db", "status", "--root", tmp_path, "--json").stdout)["state"] == "empty"

    result = cli("db", "upgrade", "--root", tmp_path)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip().endswith(f"empty -> {SCHEMA_REVISION}.")
    listed = cli("ls", "--root", tmp_path)
    assert listed.exit_code == 0
    assert "No runs match" in listed.stderr


def test_database_from_a_newer_trialbook_is_refused(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    if ws.store_url is None:
        db = tmp_path / "trialbook.db"
        source = sqlite3.connect(ws.root / "trialbook.db")
        target = sqlite3.connect(db)
        source.backup(target)
        source.close()
        target.execute("UPDATE alembic_version SET version_num = 'tb9999'")
        target.commit()
        target.close()
        where: list[str | Path] = ["--root", tmp_path]
    else:
        from sqlalchemy import create_engine, text

        from trialbook.store import connect
        from trialbook.testing.stores import new_postgres_database, postgres_server

        url = new_postgres_database(postgres_server())
        connect(url, create=True).close()
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'tb9999'"))
        engine.dispose()
        where = ["--root", tmp_path, "--store", url]

    assert_user_error(cli("ls", *where), "tb9999", "newer trialbook")
    assert_user_error(cli("db", "upgrade", *where), "tb9999")
    status = cli("db", "status", *where)
    assert table_row(status.stdout, "state")[1].startswith("newer")


def test_db_commands_on_a_missing_workspace_create_nothing(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "nowhere"

    assert_user_error(cli("db", "status", "--root", root), "No trialbook database")
    assert_user_error(cli("db", "upgrade", "--root", root))
    assert not root.exists()
