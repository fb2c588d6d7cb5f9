"""A Store opened while another Store of the same process is in use must not drop that one's
SQLite locks: if it did, another process closing the database would delete the -wal/-shm files
under the first Store, which then failed with "disk I/O error"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import trialbook


def test_opening_a_second_store_keeps_the_first_ones_locks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    root = tmp_path / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    with trialbook.start_run("a", {"lr": 1}, name="first", **common) as run:
        run.log({"loss": 1.0}, step=0)
    kept = trialbook.open_store(root)
    try:
        assert kept.get_run(run.id).status == "completed"
        with trialbook.open_store(root) as other:  # reads the file's header at open
            other.get_run(run.id)
        env = {k: v for k, v in os.environ.items() if k != "TRIALBOOK_STORE"}
        done = subprocess.run(
            [sys.executable, "-m", "trialbook", "ls", "--root", str(root)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        # The other process did not take itself for the last user of the database.
        assert (root / "trialbook.db-wal").exists()
        with trialbook.start_run("b", {}, name="second", **common) as later:
            later.log({"loss": 2.0}, step=0)
        assert kept.get_run(later.id).status == "completed"
        assert kept.get_run(run.id).status == "completed"
    finally:
        kept.close()
