"""Compare never declares a winner or equality on a metric an entry lacks, and
entries with nothing in common are one sentence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.analysis import compare
from trialbook.errors import ConfigError


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("cmp_review") / "experiments"
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


def test_nothing_in_common_names_what_each_has(ws: tuple[Path, dict[str, str]]) -> None:
    root, _ = ws
    with pytest.raises(ConfigError) as err:
        compare(["b", "c"], root=root)
    assert str(err.value) == (
        "The entries have no benchmark in common (b: qa; c: mmlu) and no logged metric in "
        "common; evaluate them on the same benchmark first."
    )
    # A logged metric in common is enough: a (gsm8k) and c (mmlu) share eval_accuracy.
    c = compare(["a", "c"], root=root)
    assert list(c.tables) == ["logged metrics"]
    # a is ahead, but one run each cannot be tested: no winner.
    assert c.verdicts["logged metrics"].ahead == "a" and c.winner["logged metrics"] is None


def test_no_winner_or_equality_on_a_metric_an_entry_lacks(
    ws: tuple[Path, dict[str, str]],
) -> None:
    root, _ = ws
    c = compare(["a", "b"], root=root)
    assert list(c.tables) == ["logged metrics"]
    rows = {r.metric: r for r in c.tables["logged metrics"]}
    assert rows["eval_accuracy"].values == (0.7, None) and rows["eval_accuracy"].best is None
    assert rows["loss"].best == 1
    assert c.primary["logged metrics"] == "loss"
    verdict = c.verdicts["logged metrics"]
    assert (verdict.ahead, verdict.winner, verdict.test, verdict.n) == ("b", None, "", (1, 1))
