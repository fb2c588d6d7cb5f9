"""Targets that cannot be written: a read-only file system (root ignores chmod, so a read-only
tmpfs stands in for an unwritable folder) and a full one (a small tmpfs filled to the last
byte). One ``error:`` line naming the place, exit 2, no partial file, no row."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_helpers import SCRIPTED, Case, CliCase, c, check_cli_case, copy_workspace, params

import trialbook
from trialbook.errors import WorkspaceError

EXP = {"exp.yaml": SCRIPTED.replace("lr: 0.1", "lr: 0.5")}
PRED = {"p.jsonl": '{"id": "0", "prediction": "#### 18"}\n'}


def mount_tmpfs(where: Path, options: str) -> None:
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", where], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@pytest.fixture(scope="module")
def ro(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    where = tmp_path_factory.mktemp("read-only")
    mount_tmpfs(where, "size=64k,ro")
    yield where
    subprocess.run(["umount", where], check=True)


@pytest.fixture
def full(case: Case) -> Iterator[Path]:
    """A 2 MB tmpfs inside the case's folder holding a copy of the workspace, then filled."""
    where = case.tmp / "full"
    where.mkdir()
    mount_tmpfs(where, "size=2m")
    try:
        copy_workspace(case.ws, where / "ws")
        with (where / "filler").open("wb", buffering=0) as f:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        f.write(b"\0" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
        yield where
    finally:
        subprocess.run(["umount", where], check=True)


READ_ONLY = [
    c(
        "export-to-read-only",
        "export",
        "alpha",
        "--root",
        "{ws}",
        "-o",
        "{ro}/x.json",
        names=["{ro}"],
    ),
    c(
        "report-to-read-only",
        "report",
        "alpha",
        "--root",
        "{ws}",
        "-o",
        "{ro}/r.html",
        names=["{ro}"],
    ),
    c("analyze-to-read-only", "analyze", "--root", "{ws}", "--out-dir", "{ro}", names=["{ro}"]),
    c(
        "run-into-read-only-root",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{ro}/ws",
        names=["{ro}"],
        files=EXP,
    ),
    c(
        "evaluate-into-read-only-root",
        "evaluate",
        "gsm8k",
        "-n",
        "1",
        "--predictions",
        "{tmp}/p.jsonl",
        "--root",
        "{ro}/ws",
        names=["{ro}"],
        files=PRED,
    ),
]


@pytest.mark.parametrize("x", params(READ_ONLY))
def test_read_only_target_is_one_line_and_nothing_written(case: Case, ro: Path, x: CliCase) -> None:
    check_cli_case(case, x, ro=ro)


def test_start_run_in_read_only_root_raises_workspace_error(case: Case, ro: Path) -> None:
    before = case.snap()
    with pytest.raises(WorkspaceError, match=str(ro)):
        trialbook.start_run(
            "x", {"lr": 1}, root=ro / "ws", system_metrics=False, capture_packages=False
        )
    assert case.snap() == before


FULL = [
    c(
        "export-to-full-disk",
        "export",
        "--all",
        "--root",
        "{ws}",
        "-o",
        "{full}/x.json",
        names=["{full}"],
    ),
    c(
        "export-metrics-csv-to-full-disk",
        "export",
        "--all",
        "--metrics",
        "--root",
        "{ws}",
        "-o",
        "{full}/m.csv",
        names=["{full}"],
    ),
    c(
        "report-to-full-disk",
        "report",
        "alpha",
        "--root",
        "{ws}",
        "-o",
        "{full}/r.html",
        names=["{full}"],
    ),
    c("analyze-to-full-disk", "analyze", "--root", "{ws}", "--out-dir", "{full}", names=["{full}"]),
    c(
        "evaluate-into-run-on-full-disk",
        "evaluate",
        "gsm8k",
        "-n",
        "1",
        "--predictions",
        "{tmp}/p.jsonl",
        "--run",
        "alpha",
        "--root",
        "{full}/ws",
        names=["{full}"],
        files=PRED,
    ),
    c(
        "evaluate-new-run-on-full-disk",
        "evaluate",
        "gsm8k",
        "-n",
        "1",
        "--predictions",
        "{tmp}/p.jsonl",
        "--root",
        "{full}/ws",
        names=["{full}"],
        files=PRED,
    ),
    c(
        "run-on-full-disk",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{full}/ws",
        names=["{full}"],
        files=EXP,
    ),
]


@pytest.mark.parametrize("x", params(FULL))
def test_full_disk_is_one_line_and_nothing_half_written(case: Case, full: Path, x: CliCase) -> None:
    check_cli_case(case, x, full=full)
