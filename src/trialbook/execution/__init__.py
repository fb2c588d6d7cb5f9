"""Execution: the Runner (plan, resume, retries, stop-on-error) and the Executor backends.

Names are imported on first use: every run's process starts with
``python -m trialbook.execution._child``, which imports this package first, and should not
pay for the Runner, its progress display and ``reproduce``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes

_LAZY = {
    "CancelOutcome": "trialbook.execution._jobs",
    "EXECUTOR_NAMES": "trialbook.execution._backends",
    "Executor": "trialbook.execution._executor",
    "LocalExecutor": "trialbook.execution._local",
    "MetricCheck": "trialbook.execution._reproduce",
    "OutputCallback": "trialbook.execution._executor",
    "PlanDecision": "trialbook.execution._runner",
    "PreparedPlan": "trialbook.execution._runner",
    "ProgressReporter": "trialbook.execution._progress",
    "ReproduceResult": "trialbook.execution._reproduce",
    "Resources": "trialbook.execution._executor",
    "RunOutcome": "trialbook.execution._runner",
    "Runner": "trialbook.execution._runner",
    "SlurmExecutor": "trialbook.execution._slurm",
    "SuiteResult": "trialbook.execution._runner",
    "Task": "trialbook.execution._executor",
    "TaskHandle": "trialbook.execution._executor",
    "TaskResult": "trialbook.execution._executor",
    "cancel_runs": "trialbook.execution._jobs",
    "make_executor": "trialbook.execution._backends",
    "pick_up_jobs": "trialbook.execution._jobs",
    "reproduce": "trialbook.execution._reproduce",
    "run_experiments_from_list": "trialbook.execution._from_list",
}

__all__ = [
    "EXECUTOR_NAMES",
    "CancelOutcome",
    "Executor",
    "LocalExecutor",
    "MetricCheck",
    "OutputCallback",
    "PlanDecision",
    "PreparedPlan",
    "ProgressReporter",
    "ReproduceResult",
    "Resources",
    "RunOutcome",
    "Runner",
    "SlurmExecutor",
    "SuiteResult",
    "Task",
    "TaskHandle",
    "TaskResult",
    "cancel_runs",
    "make_executor",
    "pick_up_jobs",
    "reproduce",
    "run_experiments_from_list",
]

if TYPE_CHECKING:
    from trialbook.execution._backends import EXECUTOR_NAMES, make_executor
    from trialbook.execution._executor import (
        Executor,
        OutputCallback,
        Resources,
        Task,
        TaskHandle,
        TaskResult,
    )
    from trialbook.execution._from_list import run_experiments_from_list
    from trialbook.execution._jobs import CancelOutcome, cancel_runs, pick_up_jobs
    from trialbook.execution._local import LocalExecutor
    from trialbook.execution._progress import ProgressReporter
    from trialbook.execution._reproduce import MetricCheck, ReproduceResult, reproduce
    from trialbook.execution._runner import (
        PlanDecision,
        PreparedPlan,
        Runner,
        RunOutcome,
        SuiteResult,
    )
    from trialbook.execution._slurm import SlurmExecutor


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
