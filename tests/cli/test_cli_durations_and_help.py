"""One duration for a run, shown the same way by `trialbook run` (progress line and summary),
`ls`, `show` and the HTML report; and `trialbook --help` describes the whole tool."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import trialbook
from trialbook._format import fmt_duration
from trialbook.cli import app

REPO = Path(__file__).resolve().parents[2]


def _trialbook(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    return subprocess.run(
        [sys.executable, "-m", "trialbook", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow  # two tracked runs in subprocesses (~3 s)
def test_run_ls_show_and_the_report_show_the_one_duration_of_a_run(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    suite = "examples/configs/suite.yaml"
    # Two runs, one job at a time: the second waits in the queue while the first runs.
    ran = _trialbook(
        "run", suite, "--suite", "minimal", "--max-train-samples", "50", "--root", root
    )
    assert ran.returncode == 0, ran.stderr
    with trialbook.open_store(root) as db:
        first, second = sorted(db.list_runs(), key=lambda r: r.ended_at or 0)
    for rec in (first, second):
        assert rec.started_at is not None and rec.ended_at is not None
        assert rec.duration is not None
        # One definition: the run's own started -> ended.
        assert rec.duration == pytest.approx(rec.ended_at - rec.started_at, abs=1e-6)
    # The second run started when its process claimed it, not when the runner queued it:
    # the time it waited for the first one is not its own.
    assert second.started_at is not None and first.ended_at is not None
    assert second.started_at >= first.ended_at

    for rec in (first, second):
        shown = fmt_duration(rec.duration)
        short = rec.id[-6:]
        # `run`: the progress line and the summary table's row
        assert f"completed {rec.name} seed=42 in {shown}" in ran.stdout, ran.stdout
        row = next(line for line in ran.stdout.splitlines() if line.rstrip().endswith(short))
        assert row.split()[3] == shown, row
        # `ls`: the duration column of the run's row
        listed = _trialbook("ls", "--root", root)
        header, *rows = [line for line in listed.stdout.splitlines() if line.strip()]
        column = header.split().index("duration")
        cells = next(r.split() for r in rows if r.startswith(short))
        # `started` is two cells (date and time) in the rows
        assert cells[column + 1] == shown, listed.stdout
        # `show`
        shown_run = _trialbook("show", rec.id, "--root", root)
        assert re.search(rf"^\s+duration\s+{re.escape(shown)}$", shown_run.stdout, re.M), (
            shown_run.stdout
        )
        # the HTML report's overview
        out = tmp_path / f"{short}.html"
        reported = _trialbook("report", rec.id, "--out", out, "--root", root)
        assert reported.returncode == 0, reported.stderr
        assert f"<td>{shown}</td>" in out.read_text(encoding="utf-8")


def test_fmt_duration_is_the_one_formatter_and_reads_nan_as_unknown() -> None:
    assert [fmt_duration(s) for s in (None, float("nan"), 0.04, 59.94, 125, 7500)] == [
        "-",
        "-",
        "0.0s",
        "59.9s",
        "2m05s",
        "2h05m",
    ]


def test_help_describes_the_whole_tool_and_groups_every_command() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    text = result.stdout
    assert "lab notebook for machine-learning experiments" in text
    assert "significance tests and reports" in text
    groups = text[text.index("Commands, by what they are for:") : text.index("A first session")]
    grouped = set(re.findall(r"[a-z]+", groups.split(":", 1)[1]))
    command = typer.main.get_command(app)
    commands = getattr(command, "commands", {})
    visible = {name for name, c in commands.items() if not c.hidden}
    assert len(visible) >= 14
    assert visible <= grouped, f"commands missing from --help's groups: {visible - grouped}"
    # the first session it shows runs as written (the README's first commands)
    assert "trialbook run examples/configs/suite.yaml --suite minimal" in text
