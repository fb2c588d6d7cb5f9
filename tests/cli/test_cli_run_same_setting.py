"""``trialbook run --dry-run`` follows the one "same setting" rule of docs/configs.md:
1 and 1.0 are one setting, true is not 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Cli, assert_user_error

BASE = "experiment:\n  name: base\n  entrypoint: json:dumps\ntraining:\n  lr: 1\n"


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    return tmp_path


def _run(folder: Path, experiment: str) -> str:
    path = folder / "s.yaml"
    path.write_text(
        f"suite: s\nbase: base.yaml\nexperiments:\n  - name: e\n{experiment}", encoding="utf-8"
    )
    result = Cli()("run", path, "--root", folder / "ws", "--dry-run")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_dry_run_refuses_a_sweep_over_1_and_1_0(suite: Path) -> None:
    path = suite / "s.yaml"
    path.write_text(
        "suite: s\nbase: base.yaml\nexperiments:\n  - name: e\n"
        "    sweep:\n      training.lr: [1, 1.0, true]\n",
        encoding="utf-8",
    )
    assert_user_error(
        Cli()("run", path, "--root", suite / "ws", "--dry-run"),
        "lists 1 and 1.0, which are the same setting",
    )


def test_dry_run_plans_a_sweep_over_1_and_true_as_two_runs(suite: Path) -> None:
    out = _run(suite, "    sweep:\n      training.lr: [1, true]\n")
    assert "e[training.lr=1]" in out and "e[training.lr=true]" in out
    assert "2 run(s) would run" in out


def test_dry_run_shows_no_change_for_1_0_over_1_but_a_change_for_true(suite: Path) -> None:
    same = _run(suite, "    set: {training.lr: 1.0}\n")
    assert "training.lr" not in same
    changed = _run(suite, "    set: {training.lr: true}\n")
    assert "training.lr: 1 -> true" in changed
