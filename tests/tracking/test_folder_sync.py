"""A run's config.yaml and meta.json are synced in the background after start_run (and after a
process attaches to a queued run), and the run is marked finished only once they are on disk.

``os.fsync`` is wrapped (it still syncs) to see which files and folders were synced and when.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import trialbook
from trialbook.errors import StoreError


class FsyncLog:
    """Which paths os.fsync was called on, and in which thread."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail_on = fail_on
        self._real: Callable[[int], None] = os.fsync

    def __call__(self, fd: int) -> None:
        path = os.readlink(f"/proc/self/fd/{fd}")
        self.calls.append((path, threading.current_thread().name))
        if self.fail_on is not None and path.endswith(self.fail_on):
            raise OSError(errno.EIO, "Input/output error")
        self._real(fd)

    def synced(self, path: Path) -> list[str]:
        """The threads that synced ``path``."""
        return [thread for p, thread in self.calls if p == str(path)]


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> FsyncLog:
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to name the synced files")
    log = FsyncLog()
    monkeypatch.setattr(os, "fsync", log)
    return log


def test_start_run_syncs_config_and_meta_in_the_background_before_the_run_completes(
    fsyncs: FsyncLog, tmp_path: Path
) -> None:
    run = trialbook.start_run(
        experiment="sync", config={"lr": 0.1}, root=tmp_path, system_metrics=False
    )
    folder = run.folder.path
    run.log({"loss": 1.0}, step=0)
    run.finish()
    for name in ("config.yaml", "meta.json"):
        threads = fsyncs.synced(folder / name)
        assert threads and all(t.startswith("trialbook-fsync") for t in threads), name
    assert fsyncs.synced(folder)  # the folder, for the renames
    # The start's syncs were waited for before finish wrote summary.json.
    with trialbook.open_store(tmp_path) as db:
        assert db.get_run(run.id).status == "completed"
    order = [p for p, _ in fsyncs.calls]
    summary = next(i for i, p in enumerate(order) if ".summary.json." in p)  # its temp file
    assert order.index(str(folder / "meta.json")) < summary


def test_a_failed_background_sync_is_reported_when_the_run_finishes(
    fsyncs: FsyncLog, tmp_path: Path
) -> None:
    fsyncs.fail_on = "meta.json"
    run = trialbook.start_run(experiment="sync", config={}, root=tmp_path, system_metrics=False)
    with pytest.raises(StoreError, match=r"could not be synced \(\[Errno 5\]"):
        run.finish()
    fsyncs.fail_on = None
    with trialbook.open_store(tmp_path) as db:
        assert db.get_run(run.id).status == "completed"  # the run itself is recorded
    assert (run.folder.path / "meta.json").read_text().startswith("{")


def test_a_forked_child_syncs_with_a_thread_of_its_own(tmp_path: Path) -> None:
    first = trialbook.start_run(experiment="sync", config={}, root=tmp_path, system_metrics=False)
    first.finish()
    pid = os.fork()
    if pid == 0:  # the parent's syncer thread does not exist here
        code = 1
        try:
            run = trialbook.start_run(
                experiment="sync", config={"child": 1}, root=tmp_path, system_metrics=False
            )
            run.finish()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with trialbook.open_store(tmp_path) as db:
        assert sorted(r.status for r in db.list_runs()) == ["completed", "completed"]


def test_a_process_attaching_to_a_queued_run_syncs_its_meta_before_the_run_completes(
    fsyncs: FsyncLog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_attach import _queue

    run_id = _queue(tmp_path)
    monkeypatch.setenv("TRIALBOOK_RUN_ID", run_id)
    run = trialbook.start_run(root=tmp_path, system_metrics=False)
    assert run.id == run_id
    meta = run.folder.path / "meta.json"
    run.finish()
    assert fsyncs.synced(meta) and all(t.startswith("trialbook-fsync") for t in fsyncs.synced(meta))
    order = [p for p, _ in fsyncs.calls]
    assert order.index(str(meta)) < next(i for i, p in enumerate(order) if ".summary.json." in p)
