"""Execution: the Runner (plan, resume, retries, stop-on-error) and the Executor backends."""

from trialbook.execution._executor import Executor, OutputCallback, Task, TaskHandle, TaskResult
from trialbook.execution._local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "OutputCallback", "Task", "TaskHandle", "TaskResult"]
