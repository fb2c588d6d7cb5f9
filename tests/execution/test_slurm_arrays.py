"""A sweep as one Slurm job array, on the real test cluster (tests/conftest.py
``slurm_cluster``): each element is its own run, with its own sacct state, outcome, cancel
and ``job.json``. One sbatch round trip covers it all (Slurm tests are slow)."""

from __future__ import annotations

import subprocess
import threading
from typing import Any

import pytest
from runner_helpers import Workspace, plan, planned, wait_until

from trialbook.execution._jobs import cancel_runs
from trialbook.execution._runner import read_job_record
from trialbook.execution._slurm import SlurmExecutor, slurm_job_state


@pytest.fixture(autouse=True)
def _cluster(slurm_cluster: Any) -> None:
    del slurm_cluster


def _slurm(ws: Workspace, jobs: int = 2) -> SlurmExecutor:
    return SlurmExecutor(jobs, grace=3.0, folder=ws.root / ".slurm")


def _sacct_ids(array_id: str) -> set[str]:
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-o", "JobID", "-j", array_id],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def test_a_detached_sweep_is_one_array_whose_elements_end_and_cancel_on_their_own(
    ws: Workspace,
) -> None:
    from trialbook import Workspace as TbWorkspace

    (ws.cwd / "release").unlink(missing_ok=True)
    sweep = [
        planned("sleepy", name="sleepy"),
        planned("ok", name="ok1", value=1),
        planned("boom", name="boom", value=2),
        planned("gate", name="gate", index=3, block_from=0),
    ]
    with _slurm(ws) as executor:
        first = ws.runner(executor=executor, detach=True).run(plan(*sweep))
    assert [o.status for o in first.outcomes] == ["queued"] * 4
    with ws.store() as db:
        runs = {r.name: r for r in db.list_runs()}
    jobs = {name: read_job_record(run.folder or "") for name, run in runs.items()}
    job_ids = {name: str(job["job_id"]) for name, job in jobs.items() if job is not None}
    assert len(job_ids) == 4, jobs
    array_ids = {job_id.split("_")[0] for job_id in job_ids.values()}
    assert len(array_ids) == 1, f"not one array: {job_ids}"
    [array_id] = array_ids
    assert sorted(job_id.split("_")[1] for job_id in job_ids.values()) == ["0", "1", "2", "3"]

    # Cancel one element while it runs: only its run is killed, only it is CANCELLED.
    wait_until(lambda: (ws.cwd / "sleepy-started").exists(), "the sleepy element to start", 60)
    [cancelled] = cancel_runs(TbWorkspace.resolve(ws.root), [runs["sleepy"].id])
    assert cancelled.action == "cancelled" and cancelled.job_id == job_ids["sleepy"]

    # A later run follows the element still running (the gate) to its end.
    wait_until(lambda: (ws.cwd / "blocked-3").exists(), "the gate element to start", 60)
    later = ws.runner(executor=_slurm(ws))
    done: list[Any] = []
    thread = threading.Thread(
        target=lambda: done.append(later.run(plan(*[p for p in sweep if p.name == "gate"])))
    )
    thread.start()
    try:

        def followed() -> bool:
            job = read_job_record(runs["gate"].folder or "")
            return job is not None and job.get("detached") is False

        wait_until(followed, "the later runner to follow the gate's element", 30)
    finally:
        (ws.cwd / "release").touch()
        thread.join(120)
        later.executor.close()
    [gate] = done[0].outcomes
    assert (gate.status, gate.run_id, gate.attempts) == ("completed", runs["gate"].id, 1)
    assert gate.metrics["eval_accuracy"] == 1.0

    with ws.store() as db:
        after = {r.name: r for r in db.list_runs()}
        metrics = db.metric_summaries([r.id for r in after.values()])
    assert {n: r.status for n, r in after.items()} == {
        "sleepy": "killed",
        "ok1": "completed",
        "boom": "failed",
        "gate": "completed",
    }
    assert metrics[after["ok1"].id]["eval_accuracy"].last == 1.0
    assert "boom at value 2" in (after["boom"].error or "")

    def all_ended() -> bool:
        states = slurm_job_state(list(job_ids.values()))
        # UNKNOWN: an element that ended before its accounting record arrived.
        return len(states) == 4 and all(
            s.split()[0] not in ("PENDING", "RUNNING", "COMPLETING", "UNKNOWN")
            for s in states.values()
        )

    wait_until(all_ended, "sacct to record every element's end", 30)
    states = {name: slurm_job_state([job_id])[job_id] for name, job_id in job_ids.items()}
    assert states["sleepy"].startswith("CANCELLED"), states
    # The failing run's job itself completed: the run's process recorded the failure.
    assert (states["ok1"], states["boom"], states["gate"]) == ("COMPLETED",) * 3, states
    assert _sacct_ids(array_id) == set(job_ids.values())
