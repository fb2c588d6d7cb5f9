"""The demo `make demo` runs (examples/demo/run_demo.py), once, on its tiny setting."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from examples.demo.data import generate

import trialbook

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo" / "run_demo.py"


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    # From another folder than the repository: the driver must find its suite by itself.
    return subprocess.run(
        [sys.executable, str(DEMO), "--tiny", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(args[-1]).parent,
    )


def test_data_are_deterministic_with_ids_labels_and_categories() -> None:
    first, again, other = generate(200, 0), generate(200, 0), generate(200, 1, offset=200)
    assert first == again and first != other
    assert len({row["id"] for row in first + other}) == 400
    assert {row["category"] for row in first} == {"electronics", "food", "hotels", "movies"}
    assert {row["label"] for row in first} == {0, 1}
    assert any(" not " in str(row["text"]) for row in first)


@pytest.mark.slow  # six tracked runs in subprocesses, four CLI commands, twice (~15 s)
def test_demo_runs_end_to_end_then_resumes(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    done = _demo("--root", str(root))
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout

    report = root / "report.html"
    assert f"The report: {report}" in out and report.stat().st_size > 10_000
    assert 'id="config-differences"' in report.read_text(encoding="utf-8")

    # The leaderboard ranks both seed groups, each with a 95% interval over 3 seeds.
    board = trialbook.leaderboard(benchmark="reviews", by="group", root=root)
    assert sorted(board["entry"]) == ["bigrams", "bow"]
    assert board["n"].tolist() == [3, 3]
    assert all(math.isfinite(v) for v in [*board["ci_low"], *board["ci_high"]])
    assert "Leaderboard: reviews accuracy (higher is better), by group" in out
    for line in (ln for ln in out.splitlines() if ln.lstrip().startswith(("1 ", "2 "))):
        assert " to " in line  # the interval column

    # Significance printed a verdict twice: across seeds (Welch), and run against run (McNemar).
    verdicts = [
        ln for ln in out.splitlines() if " is better than " in ln or ln.startswith("No significant")
    ]
    assert len(verdicts) == 2, out
    assert "Welch's t-test" in verdicts[0] and "exact McNemar test" in verdicts[1]

    # Running again resumes: nothing reruns, the workspace still holds six runs.
    again = _demo("--root", str(root))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Running 0 run(s) (6 skipped)" in again.stdout
    assert len(trialbook.load_runs(root)) == 6


def test_demo_stops_with_the_error_when_the_workspace_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "taken"
    root.write_text("not a folder\n")
    done = _demo("--root", str(root))
    assert done.returncode == 1
    assert "error: Cannot write to the workspace" in done.stderr
    assert "The demo stopped: `trialbook run` refused it" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "taken" / "report.html").exists()
