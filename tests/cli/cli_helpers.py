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
    store_url: str | None = None  # the PostgreSQL index, or None for <root>/trialbook.db


class Cli:
    """Runs ``trialbook`` in-process and keeps stdout and stderr apart. ``stores`` maps a
    workspace root to the URL of its index: ``--root ROOT`` then gets ``--store URL`` after it."""

    def __init__(self, stores: dict[Path, str] | None = None) -> None:
        self.runner = CliRunner()
        self.stores = {str(root): url for root, url in (stores or {}).items()}

    def __call__(self, *args: str | Path) -> Result:
        return self.runner.invoke(app, with_stores(args, self.stores), catch_exceptions=False)


def with_stores(args: Sequence[str | Path], stores: dict[str, str]) -> list[str]:
    """``args`` as strings, with ``--store URL`` after each ``--root ROOT`` that ``stores`` maps."""
    out: list[str] = []
    for i, arg in enumerate(args):
        out.append(str(arg))
        if i > 0 and str(args[i - 1]) == "--root" and str(arg) in stores:
            out += ["--store", stores[str(arg)]]
    return out


def store_option(ws: Runs) -> list[str]:
    """``--store URL`` for the PostgreSQL workspace, nothing for the SQLite one (a command
    given another ``--root`` than ``ws.root``, or run in a subprocess, names its store so)."""
    return [] if ws.store_url is None else ["--store", ws.store_url]


def store_location(ws: Runs) -> str:
    """How messages name the workspace's database: its file, or its URL (password hidden)."""
    from trialbook.store import safe_url

    return str(ws.root / "trialbook.db") if ws.store_url is None else safe_url(ws.store_url)


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
