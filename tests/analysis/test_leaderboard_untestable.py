"""Issue 10 item 3: an entry no test can use (a one-run group, a run without per-sample
scores) with the best value is shown apart, unranked, and never switches off the tests of the
others."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

import trialbook
from trialbook.analysis import holm, leaderboard

N = 200


def _samples(seed: int, p: float) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    return [
        {"id": f"q{i}", "prediction": "x", "reference": "y", "correct": bool(rng.random() < p)}
        for i in range(N)
    ]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, list[float]]]]:
    """Three 3-seed groups (strong and close are alike, weak is far behind); in experiment
    ``solo``, a one-run group ``lucky`` with the best accuracy and no per-sample results, and
    a one-run group ``quick`` (with per-sample results) between them."""
    root = tmp_path_factory.mktemp("lb_untestable") / "experiments"
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    values: dict[str, list[float]] = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        for name, p in (("strong", 0.72), ("close", 0.71), ("weak", 0.45)):
            for seed in (1, 2, 3):
                config = {"model": name}
                with trialbook.start_run("x", config, seed=seed, name=name, **common) as run:
                    samples = _samples(seed * 10 + len(name), p)
                    acc = sum(s["correct"] for s in samples) / N
                    run.log_evaluation("quiz", {"metrics": {"accuracy": acc}, "samples": samples})
                    values.setdefault(name, []).append(acc)
        with trialbook.start_run("solo", {"model": "lucky"}, name="lucky", **common) as run:
            run.log_evaluation("quiz", {"accuracy": 0.95})
        with trialbook.start_run("solo", {"model": "quick"}, name="quick", **common) as run:
            samples = _samples(99, 0.6)
            acc = sum(s["correct"] for s in samples) / N
            run.log_evaluation("quiz", {"metrics": {"accuracy": acc}, "samples": samples})
            values["quick"] = [acc]
        yield root, values


def test_one_run_groups_with_the_best_mean_do_not_switch_off_the_tests(
    ws: tuple[Path, dict[str, list[float]]],
) -> None:
    root, values = ws
    lb = leaderboard(benchmark="quiz", by="group", root=root)
    assert list(lb["entry"]) == ["strong", "close", "weak", "lucky", "quick"]
    assert lb["rank"].tolist()[:3] == [1, 2, 3] and lb["rank"].iloc[3:].isna().all()
    # The 3-seed groups are tested against the best of them, Welch, Holm-corrected together.
    p = [
        stats.ttest_ind(values["strong"], values[o], equal_var=False).pvalue
        for o in ("close", "weak")
    ]
    assert list(lb["test"][1:3]) == ["welch", "welch"]
    assert list(lb["p_value"][1:3]) == pytest.approx(p, rel=1e-12)
    assert list(lb["p_adjusted"][1:3]) == pytest.approx(holm(p), rel=1e-12)
    assert holm(p)[0] >= 0.05 > holm(p)[1]
    assert list(lb["status"]) == ["leader", "tied", "behind", "untested", "untested"]
    assert list(lb["tied"]) == [True, True, False, None, None]
    # The one-run groups keep their values and say why they are not ranked.
    assert list(lb["value"][3:]) == pytest.approx([0.95, values["quick"][0]])
    assert list(lb["note"]) == ["", "", "", "one run", "one run"]
    assert lb["p_value"][3:].isna().all() and list(lb["test"][3:]) == ["", ""]


def test_top_keeps_the_first_ranked_and_the_first_unranked(
    ws: tuple[Path, dict[str, list[float]]],
) -> None:
    root, _ = ws
    lb = leaderboard(benchmark="quiz", by="group", root=root, top=1)
    assert list(lb["entry"]) == ["strong", "lucky"]
    assert list(lb["status"]) == ["leader", "untested"]
    # By run, runs are read best first until the ranked rows are found: lucky (best, no
    # per-sample scores) is listed apart; runs below the shown ones are not read.
    lb = leaderboard(benchmark="quiz", root=root, top=2)
    assert list(lb["entry"]) == ["strong", "strong", "lucky"]
    assert list(lb["note"]) == ["", "", "no per-sample scores"]


def test_a_run_without_per_sample_scores_first_does_not_switch_off_the_paired_tests(
    ws: tuple[Path, dict[str, list[float]]],
) -> None:
    root, _ = ws
    lb = leaderboard(benchmark="quiz", root=root)
    # lucky (0.95, no samples) is shown apart; the best run with samples leads the tests.
    assert lb["entry"].iloc[-1] == "lucky" and pd_isna(lb["rank"].iloc[-1])
    assert lb["note"].iloc[-1] == "no per-sample scores" and lb["status"].iloc[-1] == "untested"
    ranked = lb[lb["rank"].notna()]
    assert len(ranked) == 10 and ranked["status"].iloc[0] == "leader"
    assert set(ranked["test"].iloc[1:]) == {"mcnemar"}
    assert set(ranked["status"].iloc[1:]) <= {"tied", "behind"}


def test_entries_beyond_the_tested_say_so(ws: tuple[Path, dict[str, list[float]]]) -> None:
    root, _ = ws
    lb = leaderboard(benchmark="quiz", by="group", root=root, tie_tests=1)
    assert list(lb["status"][:3]) == ["leader", "tied", "untested"]
    assert list(lb["note"][:3]) == ["", "", "beyond the first 1 tested"]


def test_when_nothing_is_testable_the_board_is_a_plain_ranking(
    ws: tuple[Path, dict[str, list[float]]],
) -> None:
    root, _ = ws
    lb = leaderboard(benchmark="quiz", by="group", root=root, experiment="solo")
    assert list(lb["entry"]) == ["lucky", "quick"] and lb["rank"].tolist() == [1, 2]
    assert list(lb["status"]) == ["leader", "untested"] and list(lb["tied"]) == [True, None]
    assert list(lb["note"]) == ["one run", "one run"]


def pd_isna(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_cli_shows_the_unranked_apart_with_their_note(
    ws: tuple[Path, dict[str, list[float]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from trialbook.cli import app

    root, _ = ws
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    args = ["leaderboard", "--root", str(root), "-b", "quiz", "--by", "group"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    cells = [re.split(r"\s{2,}", line.strip()) for line in lines]
    assert [(c[0], c[1], c[-1]) for c in cells[2:5]] == [
        ("1", "strong", "leader"),
        ("2", "close", "tied"),
        ("3", "weak", "no"),
    ]
    assert lines[5] == ""
    assert lines[6] == (
        "Not ranked (2): no test can use them, so they do not take part in the tests above; "
        "run more seeds to rank a group."
    )
    assert cells[7] == ["entry", "group", "value", "n", "note"]
    assert [(c[0], c[2], c[3], c[4]) for c in cells[8:]] == [
        ("lucky", "0.95", "1", "one run"),
        ("quick", "0.595", "1", "one run"),
    ]
    doc = json.loads(runner.invoke(app, [*args, "--json"]).output)
    assert [(r["entry"], r["rank"], r["status"], r["note"]) for r in doc["rows"]] == [
        ("strong", 1, "leader", ""),
        ("close", 2, "tied", ""),
        ("weak", 3, "behind", ""),
        ("lucky", None, "untested", "one run"),
        ("quick", None, "untested", "one run"),
    ]


def test_cli_says_once_when_nothing_can_be_tested(
    ws: tuple[Path, dict[str, list[float]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from trialbook.cli import app

    root, _ = ws
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    args = ["leaderboard", "--root", str(root), "-b", "quiz", "--by", "group", "-e", "solo"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert "note" not in lines[1] and [line.split()[1] for line in lines[2:4]] == [
        "lucky",
        "quick",
    ]
    assert lines[4:] == [
        "No entry can be tested (one run): a ranking by value only; run more seeds to rank a group."
    ]
