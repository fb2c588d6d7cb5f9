"""Unusable workspaces and databases: one line on stderr, exit 2, nothing created or changed."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import Cli, Runs, assert_user_error

READ_COMMANDS = [
    ["ls"],
    ["ls", "--json"],
    ["show", "someid"],
    ["show", "someid", "--json"],
    ["stats"],
    ["stats", "--json"],
    ["export", "--all"],
    ["db", "status"],
]


@pytest.mark.parametrize("args", READ_COMMANDS, ids=" ".join)
def test_missing_workspace_creates_nothing(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert_user_error(cli(*args), "No trialbook database", str(tmp_path / "experiments"))
    assert list(tmp_path.iterdir()) == []


def test_missing_database_in_an_existing_folder_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    assert_user_error(cli("ls", "--root", tmp_path), "No trialbook database")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", READ_COMMANDS[:7], ids=" ".join)
def test_corrupt_database_file(cli: Cli, tmp_path: Path, args: list[str]) -> None:
    db = tmp_path / "trialbook.db"
    garbage = os.urandom(8192)
    db.write_bytes(garbage)

    assert_user_error(cli(*args, "--root", tmp_path), str(db), "not a SQLite database")
    assert db.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trialbook.db"]


def test_foreign_sqlite_database(cli: Cli, tmp_path: Path) -> None:
    db = tmp_path / "trialbook.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO users (name) VALUES ('ada')")
    conn.commit()
    conn.close()

    for args in (["ls"], ["show", "x"], ["stats", "--json"], ["export", "--all"]):
        assert_user_error(cli(*args, "--root", tmp_path), "did not create")
    assert_user_error(cli("db", "upgrade", "--root", tmp_path), "did not create")
    status = cli("db", "status", "--root", tmp_path, "--json")
    assert json.loads(status.stdout)["state"] == "foreign"
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert tables == {"users"}


def test_store_url_option(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    url = f"sqlite:///{ws.root / 'trialbook.db'}"

    result = cli("ls", "--store", url, "--root", tmp_path / "elsewhere", "--json")

    assert len(json.loads(result.stdout)) == 3
    missing = cli("ls", "--store", f"sqlite:///{tmp_path / 'none.db'}")
    assert_user_error(missing, "none.db")
    assert not (tmp_path / "none.db").exists()


# --------------------------------------------------------------------------- real processes
def run_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    return subprocess.run(
        [sys.executable, "-c", "from trialbook.cli import main; main()", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


def test_subprocess_json_and_error(ws: Runs, tmp_path: Path) -> None:
    ok = run_cli("ls", "--root", ws.root, "--json", "--status", "failed")

    assert ok.returncode == 0, ok.stderr
    assert [r["id"] for r in json.loads(ok.stdout)] == [ws.c.id]
    assert ok.stderr == ""

    bad = run_cli("show", "no-such-run", cwd=tmp_path)

    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.startswith("error: ")
    assert bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr
    assert list(tmp_path.iterdir()) == []


def test_import_trialbook_stays_free_of_the_cli_and_cli_of_the_database() -> None:
    code = (
        "import sys, trialbook; "
        "assert not {'typer', 'rich', 'trialbook.cli'} & set(sys.modules), 'trialbook'; "
        "import trialbook.cli; "
        "assert not {'sqlalchemy', 'yaml', 'rich'} & set(sys.modules), sorted(sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)

    assert proc.returncode == 0, proc.stderr
