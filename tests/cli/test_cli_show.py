"""``trialbook show``: one run in full, found by id, prefix, short id or name."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from cli_helpers import Cli, Runs, assert_user_error, table_row

import trialbook

#: The tests of ``ws`` run on a SQLite and on a PostgreSQL index (see conftest.py).
WS_STORES = ("sqlite", "postgresql")

FAST = {"system_metrics": False, "capture_packages": False}


def section(text: str, title: str) -> str:
    """The indented lines under a plain-text section heading."""
    lines = text.splitlines()
    start = lines.index(title) + 1
    body = []
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break
        body.append(line)
    return "\n".join(body)


def test_show_prints_config_metrics_evaluation_checkpoint_and_files(cli: Cli, ws: Runs) -> None:
    result = cli("show", ws.a.id, "--root", ws.root)

    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0] == f"run {ws.a.id}"
    assert "status       completed" in out
    config = section(out, "config")
    assert "lr: 0.001" in config
    assert "optimizer: adam" in config
    assert "model:\n    layers: 2" in config
    metrics = section(out, "metrics")
    assert table_row(metrics, "loss")[1:] == ["0.3", "2", "0.3", "2", "1", "0", "3"]
    assert table_row(metrics, "acc")[1:3] == ["0.9", "2"]
    evaluations = section(out, "evaluations")
    split, n, when, metrics_text = table_row(evaluations, "gsm8k")[1:]
    assert [split, n, metrics_text] == ["test", "2", "accuracy=0.75"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", when)  # when it was recorded
    checkpoints = section(out, "checkpoints")
    assert table_row(checkpoints, "2")[1] == "2.0 KiB"
    assert "checkpoint/model.pt" in checkpoints
    assert "curve.png" in section(out, "artifacts")
    datasets = section(out, "datasets")
    assert table_row(datasets, "train")[1] == "3"  # rows
    assert section(out, "params (logged besides the config)").split() == ["batch", "32"]
    provenance = section(out, "provenance")
    assert "python" in provenance
    assert "host" in provenance
    assert "error" not in out.splitlines()


def test_show_failed_run_prints_its_traceback(cli: Cli, ws: Runs) -> None:
    result = cli("show", ws.c.id, "--root", ws.root)

    assert "status       failed" in result.stdout
    error = section(result.stdout, "error")
    assert "Traceback" in error
    assert "RuntimeError: diverged" in error
    assert table_row(section(result.stdout, "metrics"), "loss")[1:3] == ["inf", "2"]


@pytest.mark.parametrize("how", ["id", "prefix", "short_id", "name"])
def test_show_finds_a_run_by_id_prefix_short_id_or_name(cli: Cli, ws: Runs, how: str) -> None:
    ref = {
        "id": ws.b.id,
        "prefix": ws.b.id[:-2],
        "short_id": ws.b.short_id,
        "name": "beta",
    }[how]

    result = cli("show", ref, "--root", ws.root)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"run {ws.b.id}\n")


def test_show_json(cli: Cli, ws: Runs) -> None:
    result = cli("show", ws.a.short_id, "--root", ws.root, "--json")

    assert result.stderr == ""
    doc = json.loads(result.stdout)
    assert doc["id"] == ws.a.id
    assert doc["config"]["lr"] == 0.001
    assert doc["params"]["model.layers"] == 2
    assert doc["metrics"]["loss"] == {
        "last": 0.3,
        "last_step": 2,
        "min": 0.3,
        "min_step": 2,
        "max": 1.0,
        "max_step": 0,
        "count": 3,
    }
    (evaluation,) = doc["evaluations"]
    assert (evaluation["benchmark"], evaluation["split"], evaluation["n"]) == ("gsm8k", "test", 2)
    assert evaluation["metrics"] == {"accuracy": 0.75}
    assert "samples" not in evaluation  # export has them; show stays small
    assert doc["checkpoints"][0]["step"] == 2
    assert doc["checkpoints"][0]["size"] == 2048
    assert doc["datasets"][0]["rows"] == 3
    assert doc["provenance"]["run_id"] == ws.a.id
    assert doc["provenance"]["data"][0]["name"] == "train"


def test_show_without_the_run_folder_still_shows_the_store(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    with trialbook.start_run("e", {"lr": 1}, root=root, **FAST) as run:
        run.log({"loss": 0.5})
    shutil.rmtree(run.path)

    result = cli("show", run.id, "--root", root)

    assert result.exit_code == 0, result.stderr
    assert "(folder missing)" in result.stdout
    assert table_row(section(result.stdout, "metrics"), "loss")[1] == "0.5"
    assert json.loads(cli("show", run.id, "--root", root, "--json").stdout)["provenance"] is None


def test_unknown_run(cli: Cli, ws: Runs) -> None:
    assert_user_error(
        cli("show", "no-such-run", "--root", ws.root), "'no-such-run'", "trialbook ls"
    )


def test_ambiguous_prefix_lists_the_candidates(cli: Cli, ws: Runs) -> None:
    prefix = ws.a.id[:4]  # the year: every run shares it
    line = assert_user_error(cli("show", prefix, "--root", ws.root), repr(prefix), "3 runs")

    for run in (ws.a, ws.b, ws.c):
        assert run.id in line


def test_ambiguous_name_lists_the_candidates(cli: Cli, tmp_path: Path) -> None:
    ids = []
    for seed in (1, 2):
        with trialbook.start_run("e", {}, seed=seed, name="twin", root=tmp_path, **FAST) as run:
            ids.append(run.id)

    line = assert_user_error(cli("show", "twin", "--root", tmp_path), "'twin'", "2 runs")

    assert all(i in line for i in ids)
