"""Unusable workspaces and databases: one line on stderr, exit 2, nothing created or changed."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import Cli, Runs, assert_user_error, store_option

#: The tests of ``ws`` run on a SQLite and on a PostgreSQL index (see conftest.py).
WS_STORES = ("sqlite", "postgresql")

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
    url = ws.store_url or f"sqlite:///{ws.root / 'trialbook.db'}"

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
    ok = run_cli("ls", "--root", ws.root, *store_option(ws), "--json", "--status", "failed")

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


# ------------------------------------------------ library errors in the command line's words
EXP_YAML = "experiment: {name: exp, command: python -c pass}\nseed: 1\n"


def _command(*path: str) -> object:
    """The click command ``trialbook <path>`` runs."""
    import typer

    from trialbook.cli import app

    command: object = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize(
    ("command", "error", "expected"),
    [
        (("run",), ("jobs must be at least 1.", "jobs"), "--jobs must be at least 1."),
        (("report",), ("out=/x is a folder.", "out"), "--out /x is a folder."),
        (("analyze",), ("choose another out_dir=....", "out_dir"), "choose another --out-dir."),
        (
            ("ls",),
            ("choose another root=... or TRIALBOOK_ROOT.", "root"),
            "choose another --root or TRIALBOOK_ROOT.",
        ),
        (("ls",), ("store_url='x' is not a URL.", "store_url"), "--store 'x' is not a URL."),
        (
            ("db", "recover"),
            ("pass force=True to rebuild it.", "force"),
            "pass --force to rebuild it.",
        ),
        (("show",), ("run='zz' is not a run id.", "run"), "'zz' is not a run id."),
        (("run",), ("set=['lr'] needs KEY=VALUE.", "set"), "--set ['lr'] needs KEY=VALUE."),
        # Only the parameter's own spellings change: other words that contain it do not.
        (
            ("report",),
            ("out=/x is without space; out of room.", "out"),
            "--out /x is without space; out of room.",
        ),
        (
            ("run",),
            ("timeout=3 is too short for lr=0.1.", "timeout"),
            "--timeout 3 is too short for lr=0.1.",
        ),
        # Every option of the command written name=value becomes the option (a message may name
        # several); inside a spec (after ? or &) it stays.
        (("run",), ("retries=x: see timeout=60.", "retries"), "--retries x: see --timeout 60."),
        (
            ("leaderboard",),
            ("pass benchmark=NAME and/or metric=NAME.", None),
            "pass --benchmark NAME and/or --metric NAME.",
        ),
        (
            ("significance",),
            ("compare a logged metric with metric=NAME (they log: acc).", None),
            "compare a logged metric with --metric NAME (they log: acc).",
        ),
        (
            ("evaluate",),
            ("openai:URL names no model; add ?model=NAME.", "model"),
            "openai:URL names no model; add ?model=NAME.",
        ),
        (("ls",), ("patience=0 must be positive.", "patience"), "patience=0 must be positive."),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_parameter_named_in_a_library_error_becomes_the_commands_option(
    command: tuple[str, ...], error: tuple[str, str | None], expected: str
) -> None:
    from trialbook.cli._errors import cli_message
    from trialbook.errors import ConfigError

    message, parameter = error

    assert cli_message(ConfigError(message, parameter=parameter), _command(*command)) == expected


def test_run_not_found_gets_the_ls_hint_once_and_ambiguity_none() -> None:
    from trialbook.cli._errors import cli_message
    from trialbook.errors import AmbiguousRunError, RunNotFoundError

    show = _command("show")

    assert cli_message(RunNotFoundError("No run with id 'x'."), show) == (
        "No run with id 'x'; list runs with `trialbook ls`."
    )
    already = "No run with id 'x'; list runs with `trialbook ls` and pass an id."
    assert cli_message(RunNotFoundError(already), show) == already
    ambiguous = "'a' matches 2 runs: a1, a2; pass more of the id."
    assert cli_message(AmbiguousRunError(ambiguous), show) == ambiguous


def test_workspace_parameters_become_the_workspace_options_in_any_command() -> None:
    from trialbook.cli._errors import cli_message
    from trialbook.errors import WorkspaceError

    error = WorkspaceError(
        "No trialbook database at /w/trialbook.db; point root=... (TRIALBOOK_ROOT) or "
        "store_url=... (TRIALBOOK_STORE) at an existing workspace."
    )

    for command in (_command("ls"), _command("db", "status"), None):
        assert cli_message(error, command) == (
            "No trialbook database at /w/trialbook.db; point --root (TRIALBOOK_ROOT) or "
            "--store (TRIALBOOK_STORE) at an existing workspace."
        )


def test_old_database_gets_the_upgrade_command_naming_its_workspace(tmp_path: Path) -> None:
    from trialbook.cli._errors import cli_message
    from trialbook.errors import SchemaVersionError

    url = f"sqlite:///{tmp_path / 'trialbook.db'}"
    old = SchemaVersionError(f"The database {tmp_path} is at revision tb0001, older than tb0003.")

    assert cli_message(old, _command("ls"), url) == (
        f"The database {tmp_path} is at revision tb0001, older than tb0003; back it up and run "
        f"`trialbook db upgrade --root {tmp_path}`."
    )
    other = "sqlite:///" + str(tmp_path / "runs.db")
    assert cli_message(old, _command("ls"), other).endswith(
        f"`trialbook db upgrade --store '{other}'`."
    )
    newer = SchemaVersionError("The database was written by a newer trialbook; upgrade it.")
    assert cli_message(newer, _command("ls"), url) == str(newer)
    said = SchemaVersionError("Old schema; run `trialbook db upgrade --root /w`.")
    assert cli_message(said, _command("ls"), url) == str(said)


def test_runner_jobs_error_names_the_parameter_in_python_and_the_flag_on_the_cli(
    cli: Cli, tmp_path: Path
) -> None:
    from trialbook import ConfigError, Runner

    with pytest.raises(ConfigError) as python:
        Runner(jobs=0, root=tmp_path / "ws")
    assert python.value.parameter == "jobs" and python.value.value == 0
    assert str(python.value).startswith("jobs must be") and "--jobs" not in str(python.value)

    (tmp_path / "exp.yaml").write_text(EXP_YAML)
    line = assert_user_error(
        cli("run", tmp_path / "exp.yaml", "--jobs", "0", "--root", tmp_path / "ws"),
        "--jobs must be a whole number of at least 1, got 0.",
    )
    assert "jobs=" not in line


def test_report_out_error_names_the_parameter_in_python_and_the_flag_on_the_cli(
    cli: Cli, ws: Runs, tmp_path: Path
) -> None:
    import trialbook

    with pytest.raises(trialbook.ConfigError) as python:
        trialbook.report([ws.a.id], tmp_path, root=ws.root)
    assert python.value.parameter == "out"
    assert str(python.value).startswith(f"out={tmp_path} is a folder")
    assert "--out" not in str(python.value)

    assert_user_error(
        cli("report", ws.a.id, "--out", tmp_path, "--root", ws.root),
        f"--out {tmp_path} is a folder; give a file name such as report.html.",
    )
    assert list(tmp_path.iterdir()) == []


def test_unwritable_workspace_names_root_in_python_and_the_flag_on_the_cli(
    cli: Cli, tmp_path: Path
) -> None:
    import trialbook
    from trialbook import WorkspaceError

    plain = tmp_path / "plain.txt"
    plain.write_text("x")

    with pytest.raises(WorkspaceError) as python:
        trialbook.open_store(plain / "ws", create=True)
    assert python.value.parameter == "root"
    assert "root=..." in str(python.value) and "--root" not in str(python.value)

    (tmp_path / "exp.yaml").write_text(EXP_YAML)
    line = assert_user_error(
        cli("run", tmp_path / "exp.yaml", "--root", plain / "ws"), "choose another with --root"
    )
    assert "root=" not in line
    assert plain.read_text() == "x"
