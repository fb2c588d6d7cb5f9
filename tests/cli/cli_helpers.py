"""Helpers shared by the CLI tests: the workspace description, a runner, output checks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner, Result

import trialbook
from trialbook.cli import app


@dataclass(frozen=True)
class Runs:
    """The workspace built by ``ws``; runs started in this order (a is oldest)."""

    root: Path
    a: trialbook.RunRecord  # alpha: baseline, lr 0.001 adam, completed, tag sweep
    b: trialbook.RunRecord  # beta: baseline, lr 0.01 sgd, completed, tags sweep + best
    c: trialbook.RunRecord  # gamma: ablation, lr 0.1 adam, failed, NaN and inf in its loss


class Cli:
    """Runs ``trialbook`` in-process and keeps stdout and stderr apart."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str | Path) -> Result:
        return self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def ids_in_table(text: str) -> list[str]:
    """The first column (short ids) of a plain ``ls`` table, without the header."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and lines[0].split()[0] == "id", text
    return [line.split()[0] for line in lines[1:]]


def assert_user_error(result: Result, *fragments: str) -> str:
    """Exit 2, nothing on stdout, one ``error: ...`` line on stderr naming the fragments."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def short_ids(*records: trialbook.RunRecord) -> list[str]:
    return [r.short_id for r in records]


def table_row(text: str, first: str) -> Sequence[str]:
    """The whitespace-split cells of the table line whose first cell is ``first``."""
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if cells and cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in:\n{text}")
