"""``trialbook ls``: filters, ordering, table columns and --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import Cli, Runs, assert_user_error, ids_in_table, table_row

#: The tests of ``ws`` run on a SQLite and on a PostgreSQL index (see conftest.py).
WS_STORES = ("sqlite", "postgresql")


def ls(cli: Cli, ws: Runs, *args: str) -> list[str]:
    result = cli("ls", "--root", ws.root, *args)
    assert result.exit_code == 0, result.stderr
    return ids_in_table(result.stdout)


def test_lists_every_run_newest_first(cli: Cli, ws: Runs) -> None:
    assert ls(cli, ws) == [ws.c.short_id, ws.b.short_id, ws.a.short_id]


def test_global_root_before_the_command_works_too(cli: Cli, ws: Runs) -> None:
    result = cli("--root", ws.root, "ls")

    assert ids_in_table(result.stdout) == [ws.c.short_id, ws.b.short_id, ws.a.short_id]


def test_root_from_the_environment(cli: Cli, ws: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIALBOOK_ROOT", str(ws.root))
    if ws.store_url is not None:
        monkeypatch.setenv("TRIALBOOK_STORE", ws.store_url)

    result = Cli()("ls")  # nothing on the command line

    assert ids_in_table(result.stdout) == [ws.c.short_id, ws.b.short_id, ws.a.short_id]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--status", "completed"], "ba"),
        (["--status", "failed"], "c"),
        (["--status", "failed,completed"], "cba"),
        (["-s", "failed", "-s", "completed"], "cba"),
        (["--tag", "sweep"], "ba"),
        (["--tag", "sweep", "--tag", "best"], "b"),
        (["-e", "baseline"], "ba"),
        (["--experiment", "ablation"], "c"),
        (["--experiment", "ablation", "--where", "params.optimizer!=adam"], ""),
        (["--where", "params.lr=0.001"], "a"),
        (["--where", "params.lr == 0.001"], "a"),
        (["--where", "params.optimizer=adam"], "ca"),
        (["--where", "params.optimizer!=adam"], "b"),
        (["--where", "params.optimizer='adam'"], "ca"),
        (["--where", "params.lr>=0.01"], "cb"),
        (["--where", "params.model.layers=4"], "c"),
        (["--where", "loss<0.5"], "ba"),
        (["--where", "metrics.loss<0.25"], "b"),
        (["--where", "min(loss)<=0.2"], "b"),
        (["--where", "max(metrics.acc)>=0.9"], "ba"),
        (["--where", "max(acc)>0.9"], "b"),
        (["--where", "min(loss) < 0.9", "--where", "params.optimizer=adam"], "a"),
        (["--name", "beta"], "b"),
        (["--name", "bet"], ""),
        (["--name", "*a"], "cba"),
        (["--name", "?LPHA"], "a"),
        (["--name", "g*", "--status", "failed"], "c"),
        (["--name", "a_ph*"], ""),  # _ and % are literal, not SQL wildcards
        (["--seed", "2"], "b"),
        (["--seed", "9"], ""),
        (["-e", "baseline", "--tag", "sweep", "--status", "completed", "-w", "acc>0.9"], "b"),
    ],
)
def test_filters_return_exactly_the_matching_runs(
    cli: Cli, ws: Runs, args: list[str], expected: str
) -> None:
    wanted = [getattr(ws, letter).short_id for letter in expected]
    result = cli("ls", "--root", ws.root, *args)

    assert result.exit_code == 0, result.stderr
    if wanted:
        assert ids_in_table(result.stdout) == wanted
    else:
        assert result.stdout == ""
        assert "No runs match" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        # A loss: best (lowest) first; the run whose last loss is inf comes last.
        (["--sort", "loss"], "bac"),
        (["--sort", "metrics.loss", "--desc"], "cab"),
        (["--sort", "min(loss)"], "bac"),
        # Accuracy: best (highest) first; the run without it comes last either way.
        (["--sort", "acc"], "bac"),
        (["--sort", "max(acc)", "--asc"], "abc"),
        (["--sort", "started_at", "--asc"], "abc"),
        (["--sort", "name"], "abc"),
        (["--sort", "name", "--desc"], "cba"),
        (["--sort", "seed", "--desc"], "cba"),
        (["--sort", "seed"], "abc"),
        (["--limit", "2"], "cb"),
        (["--sort", "loss", "-n", "1"], "b"),
    ],
)
def test_sort_and_limit(cli: Cli, ws: Runs, args: list[str], expected: str) -> None:
    assert ls(cli, ws, *args) == [getattr(ws, letter).short_id for letter in expected]


def test_table_shows_run_columns_and_the_sorted_metric_first(cli: Cli, ws: Runs) -> None:
    result = cli("ls", "--root", ws.root, "--sort", "min(loss)")
    header = result.stdout.splitlines()[0].split()

    assert header[:8] == [
        "id",
        "experiment",
        "name",
        "status",
        "seed",
        "started",
        "duration",
        "min(loss)",
    ]
    assert "acc" in header
    row = table_row(result.stdout, ws.a.short_id)
    assert row[1:5] == ["baseline", "alpha", "completed", "1"]
    assert row[7] == "0.3"  # min(loss) of a
    c_row = table_row(result.stdout, ws.c.short_id)
    assert c_row[3] == "failed"
    assert c_row[7] == "2"  # NaN and inf are not a minimum


def test_plain_output_has_no_escape_codes(cli: Cli, ws: Runs) -> None:
    result = cli("ls", "--root", ws.root)

    assert "\x1b[" not in result.stdout


def test_json_has_full_ids_fields_and_last_metric_values(cli: Cli, ws: Runs) -> None:
    result = cli("ls", "--root", ws.root, "--json", "--status", "completed")

    assert result.exit_code == 0
    assert result.stderr == ""
    runs = json.loads(result.stdout)
    assert [r["id"] for r in runs] == [ws.b.id, ws.a.id]
    b = runs[0]
    assert b["short_id"] == ws.b.short_id
    assert b["experiment"] == "baseline"
    assert b["status"] == "completed"
    assert b["seed"] == 2
    assert b["tags"] == ["sweep", "best"]
    assert b["config"] == {"lr": 0.01, "optimizer": "sgd", "model": {"layers": 2}, "seed": 2}
    assert b["metrics"] == {"acc": 0.95, "loss": 0.2}
    assert b["started_at"].endswith("+00:00")


def test_json_writes_non_finite_values_as_strings(cli: Cli, ws: Runs) -> None:
    result = cli("ls", "--root", ws.root, "--json", "-e", "ablation")

    def no_constants(name: str) -> None:
        raise AssertionError(f"bare {name} in JSON")

    (run,) = json.loads(result.stdout, parse_constant=no_constants)
    assert run["metrics"] == {"loss": "Infinity"}
    assert "diverged" in run["error"]


def test_json_with_no_match_is_an_empty_list(cli: Cli, ws: Runs) -> None:
    result = cli("ls", "--root", ws.root, "--json", "-e", "ablation", "--seed", "9")

    assert json.loads(result.stdout) == []


def test_list_is_an_alias_of_ls(cli: Cli, ws: Runs) -> None:
    assert ids_in_table(cli("list", "--root", ws.root).stdout) == ls(cli, ws)


@pytest.mark.parametrize(
    ("cond", "fragment"),
    [
        ("lr<<0.5", "KEY OP VALUE"),
        ("loss", "KEY OP VALUE"),
        ("loss<", "KEY OP VALUE"),
        ("<0.5", "KEY OP VALUE"),
        ("min(loss<0.5", "KEY OP VALUE"),
        ("params.=1", "KEY OP VALUE"),
        ("params.optimizer<adam", "use = or != for text"),
        ("loss<low", "not a number"),
        ("min(params.lr)<1", "apply to metrics"),
    ],
)
def test_bad_where_is_a_one_line_error(cli: Cli, ws: Runs, cond: str, fragment: str) -> None:
    result = cli("ls", "--root", ws.root, "--where", cond)

    assert_user_error(result, repr(cond), fragment)


def test_bad_where_is_reported_before_the_workspace_is_opened(cli: Cli, tmp_path: Path) -> None:
    result = cli("ls", "--root", tmp_path, "--where", "loss<<1")

    assert_user_error(result, "'loss<<1'")


@pytest.mark.parametrize("sort", ["min(loss", "metrics.", "a b"])
def test_bad_sort_is_a_one_line_error(cli: Cli, ws: Runs, sort: str) -> None:
    assert_user_error(cli("ls", "--root", ws.root, "--sort", sort), "Cannot sort by")


def test_unknown_status_is_a_one_line_error(cli: Cli, ws: Runs) -> None:
    assert_user_error(cli("ls", "--root", ws.root, "--status", "done"), "'done'", "completed")


def test_limit_must_be_positive(cli: Cli, ws: Runs) -> None:
    result = cli("ls", "--root", ws.root, "--limit", "0")

    assert result.exit_code == 2
    assert "Traceback" not in result.output
