"""trialbook: a lab notebook for machine-learning experiments.

Track a run::

    import trialbook

    with trialbook.start_run(experiment="baseline", config={"lr": 1e-3}, seed=42) as run:
        for step in range(100):
            run.log({"loss": 1 / (step + 1)}, step=step)

The top level holds what a first session reaches for: tracking (``start_run``,
``ExperimentTracker``, ``Run``), running configs (``load_config``, ``ExperimentConfig``,
``run_experiments_from_list``, ``Runner``), evaluating (``BenchmarkRegistry``,
``BaseBenchmark``, ``evaluate``), reading results back (``open_store``, ``load_runs``,
``load_experiment_results``, ``compare_experiments``, ``seed_groups``, ``significance``,
``report``...) and the errors to catch. Everything else lives in its subpackage:
``trialbook.config`` (``TrainingConfig`` and its strategy models, ``validate_config``),
``trialbook.tracking`` (``RunFolder``), ``trialbook.evaluation`` (``SampleResult``),
``trialbook.store``, ``trialbook.analysis``, ``trialbook.reporting``, ``trialbook.cartography``.

Everything below is imported lazily, so ``import trialbook`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes

__version__ = "0.1.0"

# name -> module that defines it; resolved on first attribute access.
_LAZY = {
    "AmbiguousRunError": "trialbook.errors",
    "BaseBenchmark": "trialbook.evaluation._benchmark",
    "BenchmarkRegistry": "trialbook.evaluation._registry",
    "ConfigError": "trialbook.errors",
    "EvaluationResult": "trialbook.evaluation._records",
    "ExperimentConfig": "trialbook.config._models",
    "ExperimentTracker": "trialbook.tracking._tracker",
    "MetricValueError": "trialbook.errors",
    "Run": "trialbook.tracking._run",
    "RunNotFoundError": "trialbook.errors",
    "RunQuery": "trialbook.store._records",
    "RunRecord": "trialbook.store._records",
    "RunStateError": "trialbook.errors",
    "Runner": "trialbook.execution._runner",
    "SchemaVersionError": "trialbook.errors",
    "Store": "trialbook.store._base",
    "StoreError": "trialbook.errors",
    "TrialbookError": "trialbook.errors",
    "Workspace": "trialbook._workspace",
    "WorkspaceError": "trialbook.errors",
    "apply_overrides": "trialbook.config._overrides",
    "compare_experiments": "trialbook.analysis._frames",
    "compare": "trialbook.analysis._compare",
    "evaluate": "trialbook.evaluation._evaluate",
    "leaderboard": "trialbook.analysis._leaderboard",
    "load_config": "trialbook.config._load",
    "load_experiment_results": "trialbook.analysis._frames",
    "load_history": "trialbook.analysis._history",
    "load_runs": "trialbook.analysis._frames",
    "open_store": "trialbook._workspace",
    "plan_runs": "trialbook.config",
    "print_results_summary": "trialbook.analysis._frames",
    "report": "trialbook.reporting._html",
    "run_experiments_from_list": "trialbook.execution._from_list",
    "seed_everything": "trialbook.tracking._seed",
    "seed_groups": "trialbook.analysis._groups",
    "significance": "trialbook.analysis._significance",
    "start_run": "trialbook.tracking._start",
}

__all__ = [
    "AmbiguousRunError",
    "BaseBenchmark",
    "BenchmarkRegistry",
    "ConfigError",
    "EvaluationResult",
    "ExperimentConfig",
    "ExperimentTracker",
    "MetricValueError",
    "Run",
    "RunNotFoundError",
    "RunQuery",
    "RunRecord",
    "RunStateError",
    "Runner",
    "SchemaVersionError",
    "Store",
    "StoreError",
    "TrialbookError",
    "Workspace",
    "WorkspaceError",
    "__version__",
    "apply_overrides",
    "compare",
    "compare_experiments",
    "evaluate",
    "leaderboard",
    "load_config",
    "load_experiment_results",
    "load_history",
    "load_runs",
    "open_store",
    "plan_runs",
    "print_results_summary",
    "report",
    "run_experiments_from_list",
    "seed_everything",
    "seed_groups",
    "significance",
    "start_run",
]

if TYPE_CHECKING:
    from trialbook._workspace import Workspace, open_store
    from trialbook.analysis._compare import compare
    from trialbook.analysis._frames import (
        compare_experiments,
        load_experiment_results,
        load_runs,
        print_results_summary,
    )
    from trialbook.analysis._groups import seed_groups
    from trialbook.analysis._history import load_history
    from trialbook.analysis._leaderboard import leaderboard
    from trialbook.analysis._significance import significance
    from trialbook.config import plan_runs
    from trialbook.config._load import load_config
    from trialbook.config._models import ExperimentConfig
    from trialbook.config._overrides import apply_overrides
    from trialbook.errors import (
        AmbiguousRunError,
        ConfigError,
        MetricValueError,
        RunNotFoundError,
        RunStateError,
        SchemaVersionError,
        StoreError,
        TrialbookError,
        WorkspaceError,
    )
    from trialbook.evaluation._benchmark import BaseBenchmark
    from trialbook.evaluation._evaluate import evaluate
    from trialbook.evaluation._records import EvaluationResult
    from trialbook.evaluation._registry import BenchmarkRegistry
    from trialbook.execution._from_list import run_experiments_from_list
    from trialbook.execution._runner import Runner
    from trialbook.reporting._html import report
    from trialbook.store._base import Store
    from trialbook.store._records import RunQuery, RunRecord
    from trialbook.tracking._run import Run
    from trialbook.tracking._seed import seed_everything
    from trialbook.tracking._start import start_run
    from trialbook.tracking._tracker import ExperimentTracker


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
