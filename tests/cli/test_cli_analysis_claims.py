"""What compare / significance / leaderboard print: the metric both entries have, no
resamples for McNemar, group references that resolve."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Cli, table_row

import trialbook


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """a: gsm8k, logged eval_accuracy and loss; b: qa, logged loss; c: mmlu, eval_accuracy."""
    root = tmp_path_factory.mktemp("cli_review") / "experiments"
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    ids: dict[str, str] = {}
    runs = (
        ("a", "gsm8k", {"eval_accuracy": 0.7, "loss": 0.5}),
        ("b", "qa", {"loss": 0.4}),
        ("c", "mmlu", {"eval_accuracy": 0.6}),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        for name, bench, logged in runs:
            with trialbook.start_run("x", {"name": name}, name=name, **common) as run:
                run.log(logged, step=0)
                run.log_evaluation(bench, {"accuracy": 0.5})
                ids[name] = run.id
        yield root, ids


def test_cli_names_the_metric_both_have(cli: Cli, ws: tuple[Path, dict[str, str]]) -> None:
    root, _ = ws
    res = cli("compare", "a", "b", "--root", root)
    assert res.exit_code == 0, res.stderr
    assert "eval_accuracy" in res.stdout and "values are equal" not in res.stdout
    # One run each: b is ahead, but nothing can say the difference is not noise.
    assert (
        "  no clear difference (n=1): b is ahead on loss by 0.1, but no test applies (a test "
        "needs seed groups of 2 or more runs, or runs with per-sample scores on the same "
        "samples)\n"
    ) in res.stdout
    assert "winner" not in res.stdout
    assert table_row(res.stdout, "eval_accuracy")[-1] == "-"
    res = cli("compare", "b", "c", "--root", root)
    assert res.exit_code == 2 and "Traceback" not in res.stderr + res.stdout
    assert "no benchmark in common (b: qa; c: mmlu)" in res.stderr


@pytest.fixture(scope="module")
def sw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    import importlib.util

    path = Path(__file__).parent.parent / "analysis" / "stats_workspace.py"
    spec = importlib.util.spec_from_file_location("stats_workspace_review", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp("cli_review_sw") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        yield root, module.build(root)


def test_mcnemar_claims_no_resamples(cli: Cli, sw: tuple[Path, dict[str, Any]]) -> None:
    root, ids = sw
    a, b = ids["base"][0], ids["tuned"][0]
    res = cli("significance", a, b, "--root", root, "--test", "mcnemar")
    assert res.exit_code == 0, res.stderr
    (test,) = [line for line in res.stdout.splitlines() if line.strip().startswith("test ")]
    assert test.split() == ["test", "mcnemar", "(exact)"]
    assert "paired bootstrap, 10,000 resamples, seed 0" in table_row(res.stdout, "difference")[-1]
    res = cli("significance", a, b, "--root", root, "--test", "permutation", "--seed", "3")
    assert "permutation (10,000 resamples, seed 3)" in res.stdout


def test_group_column_prints_references_that_resolve(
    cli: Cli, sw: tuple[Path, dict[str, Any]]
) -> None:
    root, ids = sw
    listed = json.loads(cli("ls", "--root", root, "--by", "group", "--json").stdout)
    tuned = next(g for g in listed if g["name"] == "tuned")
    assert tuned["ref"] == "group:" + str(tuned["group"])[:12]
    table = cli("ls", "--root", root, "--by", "group").stdout
    assert tuned["ref"] in [line.split()[0] for line in table.splitlines()]
    shown = cli("show", ids["tuned"][0], "--root", root).stdout
    assert table_row(shown, "seed group")[1] == tuned["ref"]
    res = cli("compare", tuned["ref"], "base", "--root", root, "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["entries"] == [tuned["ref"], "base"]
