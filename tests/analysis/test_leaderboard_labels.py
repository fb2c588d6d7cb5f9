"""The leaderboard says which entries were tested against the leader, marks the
leader as such, names what it ranks, and prints groups as references compare takes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stats_workspace

from trialbook.analysis import compare, leaderboard


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("lb_review") / "experiments"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("TRIALBOOK_STORE", raising=False)
        yield root, stats_workspace.build(root)


def test_untested_entries_are_not_reported_as_not_tied(ws: tuple[Path, dict[str, Any]]) -> None:
    root, _ = ws
    lb = leaderboard(benchmark="gsm8k", root=root, tie_tests=2)
    assert lb["status"].iloc[0] == "leader" and lb["tied"].iloc[0] is True
    # Only the two entries after the leader were tested; the rest are untested, not "behind".
    assert set(lb["status"].iloc[1:3]) <= {"tied", "behind"}
    assert lb["p_adjusted"].iloc[1:3].notna().all()
    rest = lb.iloc[3:]
    assert len(rest) and (rest["status"] == "untested").all()
    assert all(t is None for t in rest["tied"])
    # A run without per-sample scores (no-samples) cannot be tested at all.
    full = leaderboard(benchmark="gsm8k", root=root)
    (row,) = full[full["entry"] == "no-samples"].to_dict("records")
    assert row["status"] == "untested" and row["tied"] is None


def test_attrs_name_what_is_ranked(ws: tuple[Path, dict[str, Any]]) -> None:
    root, _ = ws
    lb = leaderboard(metric="loss", root=root, by="group")
    assert lb.attrs == {
        "benchmark": None,
        "metric": "loss",
        "goal": "min",
        "by": "group",
        "left_out": [],
        "note": None,
    }


def test_printed_group_references_resolve(
    ws: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from trialbook.cli import app

    root, _ = ws
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    runner = CliRunner()
    res = runner.invoke(app, ["leaderboard", "--root", str(root), "-b", "gsm8k", "--by", "group"])
    assert res.exit_code == 0, res.output
    ranked = res.output.split("\n\n")[0].splitlines()[2:]  # the unranked come after a blank line
    refs = [line.split()[2] for line in ranked]
    assert refs and all(r.startswith("group:") for r in refs)
    res = runner.invoke(app, ["ls", "--root", str(root), "--by", "group"])
    assert res.exit_code == 0, res.output
    listed = [line.split()[0] for line in res.output.splitlines()[1:] if line.strip()]
    assert set(refs) <= set(listed)
    # What is printed is what compare takes.
    c = compare(refs[:2], root=root)
    assert c.entries == tuple(refs[:2]) and c.kinds == ("group", "group")
