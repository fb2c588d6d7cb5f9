"""Review fixes in compare / significance / leaderboard output (issue 5)."""

from __future__ import annotations

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
    assert "winner: b (loss, by 0.1 over the next best)" in res.stdout
    assert table_row(res.stdout, "eval_accuracy")[-1] == "-"
    res = cli("compare", "b", "c", "--root", root)
    assert res.exit_code == 2 and "Traceback" not in res.stderr + res.stdout
    assert "no benchmark in common (b: qa; c: mmlu)" in res.stderr
