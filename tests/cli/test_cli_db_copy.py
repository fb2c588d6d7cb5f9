"""``trialbook db copy``: the same ``ls``/``show``/``compare`` output from a PostgreSQL copy and
from the SQLite file copied back; a summary, JSON; one-sentence refusals that write nothing;
passwords never printed.

Runs on the session's real PostgreSQL server (``postgres_server`` in tests/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import Cli, Runs, assert_user_error
from sqlalchemy.engine import make_url

from trialbook.store import schema_state
from trialbook.testing.stores import new_postgres_database


@pytest.fixture
def pg(postgres_server: str) -> str:
    return new_postgres_database(postgres_server)


def _reads(cli: Cli, ws: Runs, *store: str) -> dict[str, str]:
    """What the read commands print for the workspace's runs, from the store given."""
    a, b, c = ws.a.short_id, ws.b.short_id, ws.c.short_id
    commands = {
        "ls": ["ls"],
        "ls --json": ["ls", "--json"],
        "ls --by group": ["ls", "--by", "group"],
        "ls --where": ["ls", "--where", "params.optimizer=adam", "--where", "loss<0.5"],
        "show a": ["show", a],
        "show a --json": ["show", a, "--json"],
        "show c": ["show", c],
        "compare": ["compare", a, b],
        "compare --json": ["compare", a, b, "--json"],
    }
    out = {}
    for name, args in commands.items():
        result = cli(*args, "--root", ws.root, *store)
        assert result.exit_code == 0, (name, result.stdout, result.stderr)
        out[name] = result.stdout
    return out


def test_ls_show_and_compare_print_the_same_from_postgres_and_back(
    cli: Cli, ws: Runs, pg: str, tmp_path: Path
) -> None:
    sqlite = _reads(cli, ws)
    assert ws.a.short_id in sqlite["ls"] and "gsm8k" in sqlite["show a"]

    result = cli("db", "copy", ws.root, pg)
    assert result.exit_code == 0, result.stderr
    assert _reads(cli, ws, "--store", pg) == sqlite

    back = tmp_path / "back.db"
    result = cli("db", "copy", pg, back, "--root", ws.root)
    assert result.exit_code == 0, result.stderr
    assert _reads(cli, ws, "--store", f"sqlite:///{back}") == sqlite


def test_the_summary_names_the_counts_and_how_to_open_the_copy(cli: Cli, ws: Runs, pg: str) -> None:
    result = cli("db", "copy", ws.root, pg)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Copied sqlite:///{ws.root}/trialbook.db to postgresql+psycopg://")
    assert lines[0].endswith("every table's row count matches the source.")
    assert "  3 run(s) of 2 experiment(s), 15 metric point(s)" in result.stdout
    assert "2 evaluation(s) with 4 sample(s), 1 checkpoint(s), 1 artifact(s)" in result.stdout
    assert f"open the copy with `trialbook ls --root {ws.root} --store '" in result.stdout
    # The copy opens with the command it names, and lists the three runs.
    listed = cli("ls", "--root", ws.root, "--store", pg)
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == [
        ws.c.short_id,
        ws.b.short_id,
        ws.a.short_id,
    ]


def test_json_report(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    result = cli("db", "copy", ws.root, tmp_path / "copy", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rows"]["runs"] == 3 and data["rows"]["samples"] == 4
    assert data["destination"] == f"sqlite:///{tmp_path / 'copy' / 'trialbook.db'}"
    assert data["root"] == str(ws.root)
    assert data["missing"] == [] and data["running"] == []
    assert (tmp_path / "copy" / "trialbook.db").is_file()


def test_folders_are_copied_to_the_folder_given(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    result = cli("db", "copy", ws.root, tmp_path / "index.db", "--folders", shared)
    assert result.exit_code == 0, result.stderr
    assert f"copied 3 run folder(s) into {shared}" in result.stdout
    assert sorted(p.name for p in shared.iterdir()) == sorted(
        Path(r.folder).name for r in (ws.a, ws.b, ws.c) if r.folder
    )
    shown = cli(
        "show", ws.a.short_id, "--root", shared, "--store", f"sqlite:///{tmp_path}/index.db"
    )
    assert shown.exit_code == 0 and "(folder missing)" not in shown.stdout


# ------------------------------------------------------------------------------ refusals
def test_a_missing_source_is_one_sentence(cli: Cli, tmp_path: Path) -> None:
    result = cli("db", "copy", tmp_path / "nowhere", tmp_path / "dst")
    assert_user_error(result, "no trialbook database at", "nowhere")
    assert not (tmp_path / "dst").exists()


def test_the_same_database_twice_is_one_sentence(cli: Cli, ws: Runs) -> None:
    result = cli("db", "copy", ws.root, f"sqlite:///{ws.root}/trialbook.db")
    assert_user_error(result, "the same database")


def test_an_unknown_kind_of_url_is_one_sentence(cli: Cli, ws: Runs) -> None:
    result = cli("db", "copy", ws.root, "mongodb://localhost/runs")
    assert_user_error(result, "mongodb URL", "postgresql://user@host/dbname")


def test_a_destination_that_is_not_empty_is_refused_and_left_alone(
    cli: Cli, ws: Runs, tmp_path: Path
) -> None:
    first = cli("db", "copy", ws.root, tmp_path / "dst")
    assert first.exit_code == 0, first.stderr
    db = tmp_path / "dst" / "trialbook.db"
    before = db.read_bytes()
    result = cli("db", "copy", ws.root, tmp_path / "dst")
    assert_user_error(result, "already holds a trialbook index with 3 run(s)")
    assert db.read_bytes() == before


def test_folders_without_the_source_root_name_the_option(
    cli: Cli, pg: str, ws: Runs, tmp_path: Path
) -> None:
    assert cli("db", "copy", ws.root, pg).exit_code == 0
    result = cli("db", "copy", pg, tmp_path / "dst", "--folders", tmp_path / "shared")
    assert_user_error(result, "pass --root (the workspace folder of postgresql+psycopg://")
    assert sorted(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ passwords
def test_a_password_in_a_url_is_never_printed(cli: Cli, ws: Runs, pg: str, tmp_path: Path) -> None:
    """The test server trusts local connections, so any password opens it."""
    secret = "s3cret-pw"
    with_password = make_url(pg).set(password=secret).render_as_string(hide_password=False)
    assert secret in with_password

    done = cli("db", "copy", ws.root, with_password)
    assert done.exit_code == 0, done.stderr
    refused = cli("db", "copy", ws.root, with_password)
    assert refused.exit_code == 2
    back = cli("db", "copy", with_password, tmp_path / "back", "--json")
    assert back.exit_code == 0, back.stderr
    for result in (done, refused, back):
        assert secret not in result.stdout + result.stderr
    assert "***" in done.stdout and "***" in refused.stderr
    assert schema_state(pg)[0] == "current"
