"""trialbook leaderboard / compare / significance: tables, JSON, and one-sentence errors."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import Cli, assert_user_error, table_row


def _builder() -> Any:
    # The analysis tests' workspace builder, loaded by path (tests/ is not a package).
    path = Path(__file__).parent.parent / "analysis" / "stats_workspace.py"
    spec = importlib.util.spec_from_file_location("stats_workspace_cli", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("cli_analysis") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        yield root, _builder().build(root)


def test_leaderboard_table_and_json(cli: Cli, sw: tuple[Path, dict[str, Any]]) -> None:
    root, ids = sw
    res = cli("leaderboard", "--root", root, "-b", "gsm8k", "--by", "group")
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "Leaderboard: gsm8k accuracy (higher is better), by group"
    assert lines[1].split() == [
        "rank",
        "entry",
        "group",
        "value",
        "95%",
        "CI",
        "n",
        "p",
        "vs",
        "leader",
        "tied",
    ]
    top = table_row(res.stdout, "1")
    assert top[1] == "tuned" and top[-1] == "leader" and top[-3] == "3"
    assert top[2].startswith("group:")
    res = cli("leaderboard", "--root", root, "-b", "gsm8k", "--json", "--top", "3")
    doc = json.loads(res.stdout)
    assert (doc["benchmark"], doc["metric"], doc["goal"], doc["by"]) == (
        "gsm8k",
        "accuracy",
        "max",
        "run",
    )
    rows = doc["rows"]
    # The first 3 ranked runs; no-samples (0.61, no per-sample scores) ranks below them.
    assert [r["rank"] is None for r in rows] == [False] * 3 and rows[0]["rank"] == 1
    assert rows[0]["tied"] is True
    rows = json.loads(cli("leaderboard", "--root", root, "-b", "gsm8k", "--json").stdout)["rows"]
    assert (rows[-1]["entry"], rows[-1]["rank"], rows[-1]["note"]) == (
        "no-samples",
        None,
        "no per-sample scores",
    )
    assert all(r["rank"] is not None for r in rows[:-1])
    rows = doc["rows"]
    assert rows[0]["status"] == "leader"
    assert rows[0]["id"] in ids["tuned"] and rows[0]["p_value"] is None


def test_compare_marks_the_winner(cli: Cli, sw: tuple[Path, dict[str, Any]]) -> None:
    root, _ = sw
    res = cli("compare", "base", "tuned", "--root", root)
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert table_row(out, "lr")[1:] == ["0.0001", "0.0003"]
    assert table_row(out, "lora.rank")[1:] == ["8", "16"]
    acc = table_row(out, "accuracy")
    assert acc[1].endswith("(n=3)") and acc[2].endswith("*") and "%]" in acc[2]
    assert "winner: tuned (accuracy, by " in out
    data = json.loads(cli("compare", "base", "tuned", "--root", root, "--json").stdout)
    assert data["winner"]["gsm8k"] == "tuned" and data["config"]["lr"] == [0.0001, 0.0003]


def test_significance_verdict_and_json(cli: Cli, sw: tuple[Path, dict[str, Any]]) -> None:
    root, ids = sw
    a, b = ids["base"][0], ids["tuned"][0]
    res = cli("significance", a, b, "--root", root, "--seed", "7")
    assert res.exit_code == 0, res.stderr
    assert f"{b} is better than {a} on gsm8k accuracy by " in res.stdout
    assert "exact McNemar test" in res.stdout and "effect size" in res.stdout
    first = json.loads(cli("significance", a, b, "--root", root, "--seed", "7", "--json").stdout)
    again = json.loads(cli("significance", a, b, "--root", root, "--seed", "7", "--json").stdout)
    assert first == again and first[0]["test"] == "mcnemar" and first[0]["seed"] == 7
    res = cli(
        "significance",
        "graded-a",
        "graded-b",
        "--root",
        root,
        "--test",
        "permutation",
        "--resamples",
        "500",
        "--json",
    )
    (r,) = json.loads(res.stdout)
    assert (r["test"], r["resamples"], r["benchmark"]) == ("permutation", 500, "summ")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["significance", "base", "mmlu-only"], ["no benchmark in common", "mmlu-only: mmlu"]),
        (["significance", "base", "shifted"], ["shifted has n=1"]),
        (["significance", "base", "tuned", "--test", "ttest"], ["Unknown --test 'ttest'"]),
        (["significance", "base", "nope"], ["'nope' is neither a run"]),
        (["compare", "base"], ["at least two runs or groups, got 1"]),
        (["leaderboard", "--by", "seed"], ["--by must be 'run' or 'group', got 'seed'"]),
        (["leaderboard"], ["Choose what to rank by"]),
    ],
)
def test_errors_are_one_sentence_exit_2(
    cli: Cli, sw: tuple[Path, dict[str, Any]], args: list[str], fragments: list[str]
) -> None:
    root, _ = sw
    assert_user_error(cli(*args, "--root", root), *fragments)


def test_mismatched_sample_ids_named(cli: Cli, sw: tuple[Path, dict[str, Any]]) -> None:
    root, ids = sw
    res = cli("significance", ids["base"][0], "shifted", "--root", root)
    assert_user_error(res, "sample ids differ", "100 only in shifted ('q300'")
