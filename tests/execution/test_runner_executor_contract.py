"""What the Runner hands an executor (the run's resources, its backend settings, a label) and
what it makes of a result the executor reports as lost (a node failure, an out-of-memory kill):
the run is crashed with that reason, as ``trialbook ls`` and ``show`` then say."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import ClassVar

import pytest
from runner_helpers import Workspace, plan, planned

from trialbook.config import Resources
from trialbook.errors import ConfigError
from trialbook.execution import LocalExecutor, OutputCallback, Task, TaskHandle, TaskResult
from trialbook.execution._backends import EXECUTOR_NAMES, make_executor


class _Recording(LocalExecutor):
    """The local executor, keeping the tasks it was given."""

    def __init__(self) -> None:
        super().__init__(1, grace=3.0)
        self.tasks: list[Task] = []

    def submit(self, task: Task, on_output: OutputCallback | None = None) -> TaskHandle:
        self.tasks.append(task)
        return super().submit(task, on_output)


class _NamedSlurm(_Recording):
    name: ClassVar[str] = "slurm"


class _Losing(_Recording):
    """Reports the second task as lost with its node (the Runner only uses that for a run
    its process did not finish)."""

    def wait(self, handles: Sequence[TaskHandle], timeout: float | None = None) -> list[TaskResult]:
        lost = self.tasks[1].key if len(self.tasks) > 1 else None
        return [
            dataclasses.replace(r, exit_code=None, lost="its node failed (NODE_FAIL)")
            if r.key == lost
            else r
            for r in super().wait(handles, timeout)
        ]


def test_the_runner_passes_resources_settings_and_a_label(ws: Workspace) -> None:
    run = planned(value=1)
    run.config["experiment"]["resources"] = {"cpus": 2, "gpus": 0.5, "memory": "512MB"}
    run.config["experiment"]["slurm"] = {"partition": "debug", "time": "0:10:00"}
    for executor, settings in (
        (_Recording(), {}),
        (_NamedSlurm(), {"partition": "debug", "time": "0:10:00"}),
    ):
        result = ws.runner(executor=executor, rerun=True).run(plan(run))
        assert result.ok, result.failed
        (task,) = executor.tasks
        assert task.resources == Resources(cpus=2.0, gpus=0.5, memory=512 * 1024**2)
        assert dict(task.settings) == settings  # only the backend named in it gets them
        assert task.name.startswith("ok")
        assert task.env["TRIALBOOK_RUNNER_HOST"] and task.env["TRIALBOOK_RUNNER_PID"].isdigit()
        executor.close()


def test_a_lost_task_marks_its_run_crashed_with_the_reason(ws: Workspace) -> None:
    executor = _Losing()
    # The second process dies without recording an end, as on a node that failed.
    runs = [planned(value=1, name="first"), planned("suicide", name="second")]
    result = ws.runner(executor=executor).run(plan(*runs))
    executor.close()
    assert [o.status for o in result.outcomes] == ["completed", "crashed"]
    assert result.exit_code == 1
    with ws.store() as db:
        lost = db.get_run(executor.tasks[1].key)
        assert lost.status == "crashed"
        assert lost.error == "its node failed (NODE_FAIL)"  # not "killed by signal SIGKILL"
        assert db.get_run(executor.tasks[0].key).status == "completed"  # a finished run stays


def test_executor_names_and_options_are_checked_before_anything_starts() -> None:
    assert EXECUTOR_NAMES == ("local", "ray", "slurm")
    assert isinstance(make_executor("local", jobs=3), LocalExecutor)
    with pytest.raises(ConfigError, match=r"Unknown executor 'k8s'; use one of local, ray"):
        make_executor("k8s")
    with pytest.raises(ConfigError, match=r"--address is for --executor ray, not local"):
        make_executor("local", address="auto")
    with pytest.raises(ConfigError, match=r"--slurm-\* options are for --executor slurm"):
        make_executor("ray", slurm={"partition": "gpu"})
    with pytest.raises(ConfigError, match=r"jobs must be a whole number of at least 1, got 0"):
        make_executor("local", jobs=0)
