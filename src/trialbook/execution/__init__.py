"""Execution: the Runner (plan, resume, retries, stop-on-error) and the Executor backends."""

from trialbook.execution._executor import Executor, OutputCallback, Task, TaskHandle, TaskResult
from trialbook.execution._local import LocalExecutor
from trialbook.execution._progress import ProgressReporter
from trialbook.execution._reproduce import MetricCheck, ReproduceResult, reproduce
from trialbook.execution._runner import PlanDecision, Runner, RunOutcome, SuiteResult

__all__ = [
    "Executor",
    "LocalExecutor",
    "MetricCheck",
    "OutputCallback",
    "PlanDecision",
    "ProgressReporter",
    "ReproduceResult",
    "RunOutcome",
    "Runner",
    "SuiteResult",
    "Task",
    "TaskHandle",
    "TaskResult",
    "reproduce",
]
