"""``trialbook export`` as Parquet, and ``--samples`` / ``--metrics`` rows in every format."""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest
from cli_helpers import Cli, Runs, assert_user_error

#: The tests of ``ws`` run on a SQLite and on a PostgreSQL index (see conftest.py).
WS_STORES = ("sqlite", "postgresql")


def test_runs_as_parquet_match_the_csv_rows(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    out = tmp_path / "runs.parquet"

    result = cli("export", "--all", "--root", ws.root, "-o", out)

    assert result.exit_code == 0, result.stderr
    df = pd.read_parquet(out)
    assert list(df["id"]) == [ws.a.id, ws.b.id, ws.c.id]
    assert list(df["params.optimizer"]) == ["adam", "sgd", "adam"]
    assert list(df["params.lr"]) == [0.001, 0.01, 0.1]
    assert list(df["metrics.acc"][:2]) == [0.9, 0.95]
    assert math.isinf(df["metrics.loss"][2])
    assert list(df["eval.gsm8k.accuracy"][:2]) == [0.75, 0.5]
    assert math.isnan(df["eval.gsm8k.accuracy"][2])
    rows = list(
        csv.DictReader(io.StringIO(cli("export", "--all", "--root", ws.root, "-f", "csv").stdout))
    )
    assert list(df.columns) == list(rows[0])


def test_samples_as_csv_json_and_parquet(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    text = cli("export", ws.a.id, "--samples", "--format", "csv", "--root", ws.root).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["run_id"], r["benchmark"], r["sample_id"], r["correct"]) for r in rows] == [
        (ws.a.id, "gsm8k", "1", "true"),
        (ws.a.id, "gsm8k", "2", "false"),
    ]
    assert rows[0]["split"] == "test"
    assert rows[0]["prediction"] == "1" and rows[0]["reference"] == "1"

    docs = json.loads(cli("export", "--all", "--samples", "--root", ws.root).stdout)
    assert [(d["name"], d["sample_id"]) for d in docs] == [
        ("alpha", "1"),
        ("alpha", "2"),
        ("beta", "1"),
        ("beta", "2"),
    ]
    assert docs[0]["extra"] == {}

    out = tmp_path / "samples.parquet"
    assert cli("export", "--all", "--samples", "--root", ws.root, "-o", out).exit_code == 0
    df = pd.read_parquet(out)
    assert list(df["correct"]) == [True, False, True, False]
    assert df["evaluation_id"].nunique() == 2


def test_metric_histories_keep_every_point_with_nan_and_infinity(
    cli: Cli, ws: Runs, tmp_path: Path
) -> None:
    docs = json.loads(cli("export", ws.c.id, "--metrics", "--root", ws.root).stdout)
    assert [(d["key"], d["step"], d["value"]) for d in docs] == [
        ("loss", 0, 2.0),
        ("loss", 1, "NaN"),
        ("loss", 2, "Infinity"),
    ]
    assert docs[0]["time"].endswith("+00:00")

    text = cli("export", ws.a.id, "--metrics", "-f", "csv", "--root", ws.root).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["key"], r["step"], r["value"]) for r in rows] == [
        ("acc", "0", "0.5"),
        ("acc", "1", "0.7"),
        ("acc", "2", "0.9"),
        ("loss", "0", "1.0"),
        ("loss", "1", "0.5"),
        ("loss", "2", "0.3"),
    ]

    out = tmp_path / "metrics.pq"
    assert cli("export", "--all", "--metrics", "--root", ws.root, "-o", out).exit_code == 0
    df = pd.read_parquet(out)
    assert len(df) == 6 + 6 + 3
    gamma = df[df["run_id"] == ws.c.id]["value"].tolist()
    assert gamma[0] == 2.0 and math.isnan(gamma[1]) and math.isinf(gamma[2])


def test_parquet_needs_an_output_file(cli: Cli, ws: Runs) -> None:
    assert_user_error(
        cli("export", "--all", "-f", "parquet", "--root", ws.root), "--output FILE.parquet"
    )


def test_parquet_without_pyarrow_says_how_to_install_it_and_writes_nothing(
    cli: Cli, ws: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    out = tmp_path / "runs.parquet"

    result = cli("export", "--all", "--root", ws.root, "-o", out)

    assert_user_error(result, "pip install 'trialbook[parquet]'")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_samples_and_metrics_together_are_refused(cli: Cli, ws: Runs) -> None:
    assert_user_error(
        cli("export", "--all", "--samples", "--metrics", "--root", ws.root),
        "--samples and --metrics",
    )


def test_a_failed_parquet_write_leaves_no_file(
    cli: Cli, ws: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self: pd.DataFrame, *args: object, **kwargs: object) -> None:
        Path(str(args[0])).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    out = tmp_path / "runs.parquet"

    assert_user_error(cli("export", "--all", "--root", ws.root, "-o", out), "disk full")
    assert list(tmp_path.iterdir()) == []


def test_parquet_stores_mixed_and_nested_values_as_json_text(cli: Cli, tmp_path: Path) -> None:
    import trialbook
    from trialbook.store import NewRun, Sample

    root = tmp_path / "ws"
    with trialbook.open_store(root, create=True) as db:
        for i, value in enumerate([[1, 2], 3, "x"]):
            run_id = f"20260101_000000_{i:06d}"
            config = {"layers": value, "lr": 1 if i == 0 else 0.5}
            db.create_run(
                NewRun(
                    id=run_id,
                    experiment="exp",
                    name=f"r{i}",
                    config=config,
                    config_hash=f"h{i}",
                    group_key="g",
                    status="completed",
                    started_at=1e9 + i,
                    params=config,
                )
            )
        db.log_evaluation(
            run_id, "qa", {"f1": 0.5}, samples=[Sample("q1", "a", "a", 1.0, True, {"t": [1]})]
        )
    out = tmp_path / "runs.parquet"
    samples = tmp_path / "samples.parquet"

    assert cli("export", "--all", "--root", root, "-o", out).exit_code == 0
    assert cli("export", "--all", "--samples", "--root", root, "-o", samples).exit_code == 0

    df = pd.read_parquet(out)
    assert list(df["params.layers"]) == ["[1, 2]", "3", "x"]
    assert list(df["params.lr"]) == [1.0, 0.5, 0.5]
    assert json.loads(pd.read_parquet(samples)["extra"][0]) == {"t": [1]}
