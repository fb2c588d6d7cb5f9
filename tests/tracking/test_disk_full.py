"""A full disk while logging: points wait in memory until space comes back, or, when it does
not, finish saves them to the rescue files and raises a StoreError that counts every point.

The workspace is a real 2 MB tmpfs filled with a ballast file (the tests skip, saying why,
where mounting is refused).
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook._atomic import atomic_write
from trialbook._disk import is_disk_full
from trialbook.errors import StoreError

pytestmark = pytest.mark.slow

FAST: dict[str, Any] = {"system_metrics": False, "capture_packages": False}


def _mount(path: Path) -> Path:
    path.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    return path


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIALBOOK_FLUSH_INTERVAL", raising=False)
    path = _mount(tmp_path / "disk")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def _fill(disk: Path) -> Path:
    """Fill ``disk`` with a ballast file; return it (unlink it to free the space)."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    block = b"\0" * 4096
    try:
        while True:
            try:
                os.write(fd, block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    return ballast


def _wait_for_full(run: Any) -> None:
    """Poll (with a deadline) until the writer has met the full disk."""
    deadline = time.monotonic() + 30
    while run._writer.last_error is None or not is_disk_full(run._writer.last_error):
        assert time.monotonic() < deadline, "the writer never met the full disk"
        time.sleep(0.05)


def _log(run: Any, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        run.log({"x": float(i)}, step=i)


def _stored(root: Path, run_id: str) -> int:
    summaries = trialbook.open_store(root).metric_summaries([run_id]).get(run_id, {})
    return summaries["x"].count if "x" in summaries else 0


def test_points_logged_while_the_disk_is_full_are_stored_once_space_returns(disk: Path) -> None:
    root = disk / "ws"
    run = trialbook.start_run("full", root=root, flush_interval=0.05, **FAST)
    _log(run, 1000)
    run.flush()
    ballast = _fill(disk)
    _log(run, 5000, start=1000)
    _wait_for_full(run)
    _log(run, 1000, start=6000)
    ballast.unlink()
    run.finish()

    store = trialbook.open_store(root)
    assert store.get_run(run.id).status == "completed"
    history = store.metric_history(run.id, "x")
    assert history.steps == tuple(range(7000))
    assert not (run.path / "unflushed_metrics.jsonl").exists()
    assert json.loads((run.path / "summary.json").read_text())["metrics"]["x"] == 6999.0


def _rescued(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_when_space_never_returns_finish_counts_every_point(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIALBOOK_STORE_RETRY", "1")
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    root = disk / "ws"
    total = 400_000
    run = trialbook.start_run("full", root=root, flush_interval=0.05, **FAST)
    _fill(disk)
    _log(run, total)
    with pytest.raises(StoreError) as info:
        run.finish()
    message = str(info.value)

    in_db = _stored(root, run.id)
    local = run.path / "unflushed_metrics.jsonl"
    fallback = spill / f"trialbook-{run.id}-unflushed_metrics.jsonl"
    rescued = _rescued(local) + _rescued(fallback)
    assert in_db + len(rescued) == total  # every point is somewhere
    assert sorted(r["step"] for r in rescued) == sorted(set(range(total)) - _db_steps(root, run))
    assert f"{total - in_db} metric points could not be stored in the database" in message
    assert str(fallback) in message and "none were lost" in message
    assert "disk is full" in message
    assert "\n" not in message
    assert not run.finished or run.status == "completed"


def _db_steps(root: Path, run: Any) -> set[int]:
    try:
        return set(trialbook.open_store(root).metric_history(run.id, "x").steps)
    except Exception:
        return set()


def test_points_that_fit_nowhere_are_counted_as_lost(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIALBOOK_STORE_RETRY", "0")
    monkeypatch.setattr(tempfile, "tempdir", str(disk))  # the fallback is full too
    root = disk / "ws"
    total = 100_000
    run = trialbook.start_run("full", root=root, flush_interval=0.05, **FAST)
    _fill(disk)
    _log(run, total)
    with pytest.raises(StoreError) as info:
        run.finish()
    message = str(info.value)

    match = re.search(r"(\d+) metric points could not be stored", message)
    assert match is not None, message
    failed = int(match.group(1))
    saved = sum(int(n) for n in re.findall(r"saved (\d+) to|and (\d+) to", message) if n)
    lost_match = re.search(r"; (\d+) were lost\.", message)
    assert lost_match is not None, message
    lost = int(lost_match.group(1))
    local = _rescued(run.path / "unflushed_metrics.jsonl")
    assert len(local) + lost == failed
    assert _stored(root, run.id) + failed == total
    assert lost > 0 and saved == len(local)
    if not local:  # nothing fitted: no empty rescue file pretending otherwise
        assert not (run.path / "unflushed_metrics.jsonl").exists()


def test_an_atomic_write_into_a_full_disk_keeps_the_old_file(disk: Path) -> None:
    target = disk / "summary.json"
    target.write_text("old")
    _fill(disk)
    with pytest.raises(OSError) as info:
        atomic_write(target, "new" * 100_000)
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "old"
    assert sorted(p.name for p in disk.iterdir()) == ["ballast", "summary.json"]


def test_points_beyond_the_memory_bound_are_dropped_and_counted(
    disk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("trialbook.tracking._writer.MAX_PENDING", 2000)
    monkeypatch.setenv("TRIALBOOK_STORE_RETRY", "0")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    root = disk / "ws"
    run = trialbook.start_run("full", root=root, flush_interval=0.05, **FAST)
    _fill(disk)
    _log(run, 3000)
    _wait_for_full(run)
    with pytest.raises(StoreError) as info:
        run.finish()
    rescued = _rescued(tmp_path / f"trialbook-{run.id}-unflushed_metrics.jsonl")
    rescued += _rescued(run.path / "unflushed_metrics.jsonl")
    pattern = r"(\d+) metric points could not be stored.*; (\d+) were lost"
    counts = re.search(pattern, str(info.value))
    assert counts is not None, str(info.value)
    failed, lost = int(counts.group(1)), int(counts.group(2))
    # (a few points may have fitted into space SQLite already had)
    assert _stored(root, run.id) + failed == 3000
    assert len(rescued) == 2000 and lost == failed - 2000 > 0
    steps = sorted(r["step"] for r in rescued)
    assert steps == list(range(steps[0], steps[0] + 2000))  # the oldest are kept
