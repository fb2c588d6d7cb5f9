"""Several runners on one plan (the same suite started three times at once, or on several
machines sharing one database): together they run each (config, seed) exactly once, with the
workspace's SQLite index and with a PostgreSQL one (``index_store``, asked for after ``ws``,
which clears TRIALBOOK_STORE)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from runner_helpers import Workspace, plan, planned, statuses, wait_until

from trialbook.execution import SuiteResult

SUITE = """\
suite: race
base:
  experiment: {name: race, entrypoint: "tasks:ok"}
  value: 0.0
seeds: [1, 2, 3]
sweep:
  value: [0.1, 0.2, 0.3, 0.4]
"""


@pytest.mark.slow
def test_three_runners_on_one_suite_run_each_run_exactly_once(
    ws: Workspace, index_store: str | None
) -> None:
    (ws.cwd / "suite.yaml").write_text(SUITE)
    argv = [sys.executable, "-m", "trialbook", "run", "suite.yaml", "--root", str(ws.root)]
    runners = [
        subprocess.Popen(
            [*argv, "--jobs", "2"],
            cwd=ws.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [r.communicate(timeout=240)[0] for r in runners]
    for runner, out in zip(runners, outputs, strict=True):
        assert runner.returncode == 0, out
        assert "Traceback" not in out
    with ws.store() as db:
        runs = db.list_runs()
        assert statuses(db) == {"completed": 12}  # nothing queued, nothing run twice
    assert len({(r.config_hash, r.seed) for r in runs}) == 12
    # No folder is left behind by a runner that found its run queued by another.
    assert sorted(p.name for p in ws.root.iterdir() if p.is_dir()) == sorted(
        Path(r.folder or "").name for r in runs
    )
    # Each runner reports the whole plan: a run it waited for as completed "by another
    # runner", and one another runner had already finished when it planned as skipped (done
    # before, as when a suite is resumed). Between them, each run ran in exactly one.
    ran_here = 0
    for out in outputs:
        summary = out.strip().splitlines()[-1]
        counts = re.match(r"12 run\(s\): (\d+) completed(?:, (\d+) skipped)? ", summary)
        assert counts is not None, out
        completed, skipped = int(counts.group(1)), int(counts.group(2) or 0)
        assert completed + skipped == 12, out
        match = re.search(r"\((\d+) of them by another runner\)", summary)
        ran_here += completed - (int(match.group(1)) if match else 0)
    assert ran_here == 12, outputs


@pytest.mark.slow
def test_a_runner_waits_for_the_runs_another_runner_holds(
    ws: Workspace, index_store: str | None
) -> None:
    from test_runner import _start_runner  # the gate plan r0, r1 in a runner process

    first = _start_runner(ws, 2, block_from=0, jobs=2)
    try:
        wait_until(
            lambda: (ws.cwd / "blocked-0").exists() and (ws.cwd / "blocked-1").exists(),
            "the first runner to start both runs",
        )
        runs = [planned("gate", name=f"r{i}", index=i, block_from=0) for i in range(2)]
        second = ws.runner(jobs=2)
        assert [d.action for d in second.preview(plan(*runs))] == ["busy", "busy"]
        results: list[SuiteResult] = []
        waiter = threading.Thread(target=lambda: results.append(second.run(plan(*runs))))
        waiter.start()
        waiter.join(timeout=2.0)
        assert waiter.is_alive(), "the second runner returned while the runs were running"
        (ws.cwd / "release").touch()
        waiter.join(timeout=60)
        out, _ = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out
    (result,) = results
    assert result.exit_code == 0
    assert [(o.status, o.by_another_runner, o.attempts) for o in result.outcomes] == [
        ("completed", True, 0),
        ("completed", True, 0),
    ]
    assert result.outcomes[0].metrics == {"eval_accuracy": 1.0}
    with ws.store() as db:
        assert statuses(db) == {"completed": 2}
