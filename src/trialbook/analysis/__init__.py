"""Analysis: runs as DataFrames, seed groups with confidence intervals, statistics.

Load every run of a workspace as one pandas DataFrame and summarise seeds::

    from trialbook.analysis import load_runs, seed_groups

    runs = load_runs("./experiments")
    groups = seed_groups(runs, ["metrics.loss"])
    print(groups[["group", "n", "metrics.loss.mean", "metrics.loss.ci_low"]])

Names are imported on first use, so importing this package stays light (no pandas).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes

# name -> module that defines it; resolved on first attribute access.
_LAZY = {
    "is_accuracy": "trialbook._metrics",
    "metric_goal": "trialbook._metrics",
    "Comparison": "trialbook.analysis._compare",
    "Entry": "trialbook.analysis._refs",
    "MetricRow": "trialbook.analysis._compare",
    "Scope": "trialbook.analysis._scope",
    "TestResult": "trialbook.analysis._stats",
    "bootstrap_interval": "trialbook.analysis._intervals",
    "compare": "trialbook.analysis._compare",
    "compare_experiments": "trialbook.analysis._frames",
    "group_interval": "trialbook.analysis._groups",
    "holm": "trialbook.analysis._stats",
    "leaderboard": "trialbook.analysis._leaderboard",
    "load_experiment_results": "trialbook.analysis._frames",
    "load_runs": "trialbook.analysis._frames",
    "mcnemar_exact": "trialbook.analysis._stats",
    "paired_bootstrap": "trialbook.analysis._stats",
    "permutation_test": "trialbook.analysis._stats",
    "print_results_summary": "trialbook.analysis._frames",
    "resolve_metric": "trialbook.analysis._frames",
    "resolve_refs": "trialbook.analysis._refs",
    "seed_groups": "trialbook.analysis._groups",
    "significance": "trialbook.analysis._significance",
    "t_interval": "trialbook.analysis._intervals",
    "welch_t_test": "trialbook.analysis._stats",
}

__all__ = [
    "Comparison",
    "Entry",
    "MetricRow",
    "Scope",
    "TestResult",
    "bootstrap_interval",
    "compare",
    "compare_experiments",
    "group_interval",
    "holm",
    "is_accuracy",
    "leaderboard",
    "load_experiment_results",
    "load_runs",
    "mcnemar_exact",
    "metric_goal",
    "paired_bootstrap",
    "permutation_test",
    "print_results_summary",
    "resolve_metric",
    "resolve_refs",
    "seed_groups",
    "significance",
    "t_interval",
    "welch_t_test",
]

if TYPE_CHECKING:
    from trialbook._metrics import is_accuracy, metric_goal
    from trialbook.analysis._compare import Comparison, MetricRow, compare
    from trialbook.analysis._frames import (
        compare_experiments,
        load_experiment_results,
        load_runs,
        print_results_summary,
        resolve_metric,
    )
    from trialbook.analysis._groups import group_interval, seed_groups
    from trialbook.analysis._intervals import bootstrap_interval, t_interval
    from trialbook.analysis._leaderboard import leaderboard
    from trialbook.analysis._refs import Entry, resolve_refs
    from trialbook.analysis._scope import Scope
    from trialbook.analysis._significance import significance
    from trialbook.analysis._stats import (
        TestResult,
        holm,
        mcnemar_exact,
        paired_bootstrap,
        permutation_test,
        welch_t_test,
    )


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
