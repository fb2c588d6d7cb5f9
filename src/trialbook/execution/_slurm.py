"""SlurmExecutor: placeholder of the contract commit; the slurm helper replaces this module."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trialbook.execution._executor import Executor, OutputCallback, Task, TaskHandle, TaskResult

__all__ = ["SlurmExecutor"]


class SlurmExecutor(Executor):
    name = "slurm"
    remote = True

    def __init__(self, max_jobs: int = 1, *, grace: float = 10.0, **options: Any) -> None:
        raise NotImplementedError("SlurmExecutor is being built (issue 13).")

    @property
    def max_parallel(self) -> int:
        raise NotImplementedError

    def submit(self, task: Task, on_output: OutputCallback | None = None) -> TaskHandle:
        raise NotImplementedError

    def wait(self, handles: Sequence[TaskHandle], timeout: float | None = None) -> list[TaskResult]:
        raise NotImplementedError

    def cancel(self, handle: TaskHandle) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


_UNUSED: Mapping[str, Any] = {}
