"""The schema on PostgreSQL: 40 processes opening one empty database at once all get it,
created once (schema creation holds an advisory lock), and ``trialbook db upgrade`` migrates
an older database with Alembic, also when several machines run it at once.

Runs on the session's real PostgreSQL server (``postgres_server`` in tests/conftest.py).
Without one (no server programs, no psycopg) the tests are skipped with the reason, except
under CI=true, where a missing server is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

import trialbook
from trialbook.store import SCHEMA_REVISION, connect, schema_state, upgrade
from trialbook.store._schema import metadata
from trialbook.testing.stores import new_postgres_database

PROCESSES = 40

#: One process: say it is ready, wait for the start signal, open the store creating the
#: schema (``create``) or upgrade it with ``trialbook db upgrade`` (``upgrade``).
WORKER = """
import sys, time
from pathlib import Path
url, folder, me, action = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
from trialbook.store import connect
from trialbook.cli import main
(folder / f"ready-{me}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
if action == "create":
    connect(url, create=True).close()
else:
    sys.argv = ["trialbook", "db", "upgrade", "--store", url, "--root", str(folder / "ws")]
    main()
"""


def _all_at_once(url: str, folder: Path, n: int, action: str) -> list[tuple[int, str]]:
    """``n`` processes doing ``action`` on ``url``, released together once all are imported;
    their (exit status, stderr + stdout)."""
    folder.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, str(folder), str(i), action],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(n)
    ]
    try:
        deadline = time.monotonic() + 240
        while len(list(folder.glob("ready-*"))) < n:
            assert time.monotonic() < deadline, "the processes never all got ready"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.02)
        (folder / "go").touch()
        return [(p.wait(timeout=240), p.communicate()[0]) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()


def _tables(url: str) -> tuple[set[str], list[tuple[str, ...]]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            versions = [tuple(r) for r in conn.execute(text("SELECT * FROM alembic_version"))]
            return set(inspect(conn).get_table_names()), versions
    finally:
        engine.dispose()


@pytest.mark.slow
def test_forty_processes_creating_the_schema_at_once_all_succeed(
    postgres_server: str, tmp_path: Path
) -> None:
    url = new_postgres_database(postgres_server)

    outcomes = _all_at_once(url, tmp_path, PROCESSES, "create")

    failed = [out.strip().splitlines()[-1] for code, out in outcomes if code != 0]
    assert failed == [], failed
    assert schema_state(url) == ("current", SCHEMA_REVISION)
    tables, versions = _tables(url)
    assert tables == {*metadata.tables, "alembic_version"}
    assert versions == [(SCHEMA_REVISION,)]  # created once


def _old_workspace(postgres_server: str, root: Path) -> tuple[str, str]:
    """A database at tb0001 (built by its own migration) holding one run whose folder, as
    tb0001 stored it, is an absolute path inside ``root``; its URL and the run's id."""
    url = new_postgres_database(postgres_server)
    assert upgrade(url, "tb0001") == (None, "tb0001")
    run_id = "20260101_000000_abc123"
    folder = root / "exp_abc123"
    folder.mkdir(parents=True)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO experiments (name, created_at) VALUES ('exp', 1.0)"))
            conn.execute(
                text(
                    "INSERT INTO runs (id, experiment_id, name, status, config, config_hash, "
                    "group_key, tags, started_at, folder) VALUES (:id, 1, 'exp', 'completed', "
                    "'{}', 'h', 'g', '[]', 1.0, :folder)"
                ),
                {"id": run_id, "folder": str(folder)},
            )
    finally:
        engine.dispose()
    return url, run_id


def test_db_upgrade_migrates_an_older_postgresql_database(
    postgres_server: str, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    url, run_id = _old_workspace(postgres_server, root)
    with pytest.raises(trialbook.errors.SchemaVersionError, match="trialbook db upgrade"):
        connect(url)

    result = subprocess.run(
        [sys.executable, "-m", "trialbook", "db", "upgrade", "--store", url, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")},
    )

    assert result.returncode == 0, result.stderr
    assert f": tb0001 -> {SCHEMA_REVISION}." in result.stdout
    status = subprocess.run(
        [sys.executable, "-m", "trialbook", "db", "status", "--store", url, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(status.stdout)["state"] == "current", status.stderr
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT folder FROM runs")).scalar_one()
    finally:
        engine.dispose()
    assert stored == "exp_abc123"  # tb0002: relative to the workspace root
    with trialbook.open_store(root, url) as db:
        assert db.get_run(run_id).folder == str(root / "exp_abc123")


@pytest.mark.slow
def test_several_machines_upgrading_at_once_migrate_once(
    postgres_server: str, tmp_path: Path
) -> None:
    root = tmp_path / "ws"
    url, run_id = _old_workspace(postgres_server, root)

    outcomes = _all_at_once(url, tmp_path, 6, "upgrade")

    assert [code for code, _ in outcomes] == [0] * 6, outcomes
    said = sorted(out.strip().split(":")[-1].strip() for _, out in outcomes)
    assert said.count(f"tb0001 -> {SCHEMA_REVISION}.") == 1, said  # one did the work
    assert schema_state(url) == ("current", SCHEMA_REVISION)
    with trialbook.open_store(root, url) as db:
        assert db.get_run(run_id).folder == str(root / "exp_abc123")
