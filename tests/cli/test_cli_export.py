"""``trialbook export``: JSON documents, CSV rows, and output files written atomically."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Cli, Runs, assert_user_error

import trialbook
from trialbook.errors import StoreError

#: The tests of ``ws`` run on a SQLite and on a PostgreSQL index (see conftest.py).
WS_STORES = ("sqlite", "postgresql")


def strict_json(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"bare {name} in the JSON")

    return json.loads(text, parse_constant=refuse)


def test_export_one_run_as_json(cli: Cli, ws: Runs) -> None:
    result = cli("export", ws.a.short_id, "--root", ws.root)

    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["id"] == ws.a.id
    assert doc["experiment"] == "baseline"
    assert doc["status"] == "completed"
    assert doc["params"] == {
        "batch": 32,
        "lr": 0.001,
        "model.layers": 2,
        "optimizer": "adam",
        "seed": 1,
    }
    assert doc["metrics"]["acc"]["last"] == 0.9
    loss = doc["history"]["loss"]
    assert loss["steps"] == [0, 1, 2]
    assert loss["values"] == [1.0, 0.5, 0.3]
    assert len(loss["times"]) == 3
    (evaluation,) = doc["evaluations"]
    assert evaluation["metrics"] == {"accuracy": 0.75}
    assert [s["id"] for s in evaluation["samples"]] == ["1", "2"]
    assert [s["correct"] for s in evaluation["samples"]] == [True, False]
    assert evaluation["samples"][0]["prediction"] == "1"
    assert doc["checkpoints"][0]["path"].endswith("model.pt")
    assert doc["artifacts"][0]["kind"] == "plot"
    assert doc["datasets"][0]["name"] == "train"


def test_export_and_show_write_the_same_run_document(cli: Cli, ws: Runs) -> None:
    exported = strict_json(cli("export", ws.a.short_id, "--root", ws.root).stdout)
    shown = strict_json(cli("show", ws.a.short_id, "--root", ws.root, "--json").stdout)

    # One document: export adds the history and the samples, nothing else differs.
    assert exported.pop("history")["loss"]["values"] == [1.0, 0.5, 0.3]
    for evaluation in exported["evaluations"]:
        assert evaluation.pop("samples")
    assert exported == shown
    assert shown["provenance"]["run_id"] == ws.a.id


def test_export_json_round_trips_nan_and_infinity(cli: Cli, ws: Runs) -> None:
    doc = strict_json(cli("export", ws.c.id, "--root", ws.root, "--format", "json").stdout)

    assert doc["history"]["loss"]["values"] == [2.0, "NaN", "Infinity"]
    assert doc["metrics"]["loss"]["last"] == "Infinity"
    assert doc["metrics"]["loss"]["min"] == 2.0
    assert doc["status"] == "failed"
    assert "RuntimeError: diverged" in doc["error"]


def test_export_all_as_json_is_a_list_oldest_first(cli: Cli, ws: Runs) -> None:
    docs = strict_json(cli("export", "--all", "--root", ws.root).stdout)

    assert [d["id"] for d in docs] == [ws.a.id, ws.b.id, ws.c.id]
    assert all("history" in d and "evaluations" in d for d in docs)


def test_export_experiment_implies_all(cli: Cli, ws: Runs) -> None:
    docs = strict_json(cli("export", "--experiment", "baseline", "--root", ws.root).stdout)

    assert [d["id"] for d in docs] == [ws.a.id, ws.b.id]


def test_export_empty_selection_is_an_empty_list(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "experiments"
    with trialbook.open_store(root, create=True) as db:
        db.ensure_experiment("planned")  # an experiment without runs yet
    assert strict_json(cli("export", "-e", "planned", "--root", root).stdout) == []


def test_export_of_a_misspelt_experiment_is_a_did_you_mean(cli: Cli, ws: Runs) -> None:
    result = cli("export", "-e", "basline", "--root", ws.root)

    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: No experiment 'basline'; did you mean 'baseline'?")


def test_export_csv(cli: Cli, ws: Runs) -> None:
    result = cli("export", "--all", "--format", "csv", "--root", ws.root)

    assert result.exit_code == 0, result.stderr
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert reader.fieldnames == [
        "id",
        "experiment",
        "name",
        "status",
        "seed",
        "started_at",
        "duration",
        "params.batch",
        "params.lr",
        "params.model.layers",
        "params.optimizer",
        "params.seed",
        "metrics.acc",
        "metrics.loss",
        "eval.gsm8k.accuracy",
    ]
    rows = list(reader)
    assert [r["id"] for r in rows] == [ws.a.id, ws.b.id, ws.c.id]
    a, b, c = rows
    assert (a["name"], a["status"], a["seed"]) == ("alpha", "completed", "1")
    assert (a["params.lr"], a["params.optimizer"], a["params.model.layers"]) == (
        "0.001",
        "adam",
        "2",
    )
    assert (a["metrics.loss"], a["metrics.acc"], a["eval.gsm8k.accuracy"]) == ("0.3", "0.9", "0.75")
    assert (a["params.batch"], b["params.batch"]) == ("32", "")
    assert (b["metrics.loss"], b["eval.gsm8k.accuracy"]) == ("0.2", "0.5")
    assert (c["status"], c["metrics.loss"], c["metrics.acc"], c["eval.gsm8k.accuracy"]) == (
        "failed",
        "Infinity",
        "",
        "",
    )
    assert a["started_at"].endswith("+00:00")
    assert float(a["duration"]) > 0


def test_export_to_a_file(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    out = tmp_path / "runs.csv"

    result = cli("export", "--all", "--output", out, "--root", ws.root)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,experiment,name,status")  # format from the suffix
    assert len(lines) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs.csv"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temp file's 0600


def test_export_creates_the_folders_of_the_output(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    out = tmp_path / "results" / "metrics" / "runs.csv"

    result = cli("export", "--all", "--output", out, "--root", ws.root)

    assert result.exit_code == 0, result.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 4
    assert [p.name for p in out.parent.iterdir()] == ["runs.csv"]


def test_export_needs_a_run_or_all(cli: Cli, ws: Runs) -> None:
    result = cli("export", "--root", ws.root)

    assert result.exit_code == 2
    assert "--all" in result.stderr
    assert "Traceback" not in result.output
    both = cli("export", ws.a.id, "--all", "--root", ws.root)
    assert both.exit_code == 2


def test_export_unknown_run_writes_nothing(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    out = tmp_path / "x.json"

    assert_user_error(cli("export", "nope", "-o", out, "--root", ws.root), "'nope'")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("where", ["under-a-file", "a-folder"])
def test_unwritable_output_is_a_one_line_error(
    cli: Cli, ws: Runs, tmp_path: Path, where: str
) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir").mkdir()
    out = {
        "under-a-file": tmp_path / "file" / "runs.json",
        "a-folder": tmp_path / "dir",
    }[where]

    assert_user_error(cli("export", "--all", "-o", out, "--root", ws.root), "--output", str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]
    assert list((tmp_path / "dir").iterdir()) == []


def test_failed_export_leaves_the_old_file_and_no_temporary_file(
    cli: Cli, ws: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "runs.json"
    out.write_text("old", encoding="utf-8")
    from trialbook.analysis import _export

    real = _export.run_document
    calls = []

    def fail_on_second_run(details: Any) -> dict[str, Any]:
        calls.append(details)
        if len(calls) == 2:
            raise StoreError("The database went away.")
        return real(details)

    monkeypatch.setattr(_export, "run_document", fail_on_second_run)

    assert_user_error(cli("export", "--all", "-o", out, "--root", ws.root), "went away")
    assert out.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["runs.json"]


def test_export_names_the_flat_columns_as_load_runs_does(
    cli: Cli, ws: Runs, tmp_path: Path
) -> None:
    """Evaluations are ``eval.<benchmark>.<metric>`` in both (export wrote ``gsm8k.accuracy``),
    and nested evaluation metrics become dotted keys in both."""
    root = tmp_path / "experiments"
    with trialbook.start_run(
        "nested", {"lr": 0.1}, root=root, system_metrics=False, capture_packages=False
    ) as run:
        run.log({"loss": 0.5})
        run.log_evaluation("mmlu", {"metrics": {"accuracy": 0.5, "per_subject": {"math": 0.25}}})
    prefixes = ("params.", "metrics.", "eval.")

    for workspace, store_url in ((ws.root, ws.store_url), (root, None)):
        header = next(
            csv.reader(io.StringIO(cli("export", "--all", "-f", "csv", "--root", workspace).stdout))
        )
        frame = trialbook.load_runs(workspace, store_url=store_url)

        assert [c for c in header if c.startswith(prefixes)] == [
            c for c in frame.columns if c.startswith(prefixes)
        ]
    assert [c for c in header if c.startswith("eval.")] == [
        "eval.mmlu.accuracy",
        "eval.mmlu.per_subject.math",
    ]


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_an_export_of_many_runs_to_a_file_draws_the_bar_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from trialbook.analysis._export import PROGRESS_MIN_RUNS, export_runs

    root = tmp_path / "ws"
    for i in range(PROGRESS_MIN_RUNS):
        with trialbook.start_run("e", {"i": i}, root=root) as run:
            run.log({"loss": 1.0 / (i + 1)}, step=0)
    with trialbook.open_store(root) as db:
        first = db.list_runs(descending=False)[0].id
        terminal = _Terminal()
        monkeypatch.setattr("sys.stderr", terminal)
        assert export_runs(db, output=tmp_path / "runs.json", progress=True) == PROGRESS_MIN_RUNS
        assert "Exporting runs" in terminal.getvalue()
        assert len(json.loads((tmp_path / "runs.json").read_text())) == PROGRESS_MIN_RUNS

        # One run, or to stdout: no bar.
        terminal = _Terminal()
        monkeypatch.setattr("sys.stderr", terminal)
        export_runs(db, first, output=tmp_path / "one.json", progress=True)
        export_runs(db, file=io.StringIO(), progress=True)
        assert terminal.getvalue() == ""
        # stderr not a terminal: nothing written to it.
        pipe = io.StringIO()
        monkeypatch.setattr("sys.stderr", pipe)
        export_runs(db, output=tmp_path / "runs.json", progress=True)
        assert pipe.getvalue() == ""
