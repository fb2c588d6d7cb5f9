"""Analysis: runs as DataFrames, seed groups with confidence intervals, statistics.

Load every run of a workspace as one pandas DataFrame and summarise seeds::

    from trialbook.analysis import load_runs, seed_groups

    runs = load_runs("./experiments")
    groups = seed_groups(runs, ["metrics.loss"])
    print(groups[["group", "n", "metrics.loss.mean", "metrics.loss.ci_low"]])

Names are imported on first use, so importing this package stays light (no pandas).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> module that defines it; resolved on first attribute access.
_LAZY = {
    "bootstrap_interval": "trialbook.analysis._intervals",
    "compare_experiments": "trialbook.analysis._frames",
    "load_experiment_results": "trialbook.analysis._frames",
    "load_runs": "trialbook.analysis._frames",
    "print_results_summary": "trialbook.analysis._frames",
    "resolve_metric": "trialbook.analysis._frames",
    "seed_groups": "trialbook.analysis._groups",
    "t_interval": "trialbook.analysis._intervals",
}

__all__ = [
    "bootstrap_interval",
    "compare_experiments",
    "load_experiment_results",
    "load_runs",
    "print_results_summary",
    "resolve_metric",
    "seed_groups",
    "t_interval",
]

if TYPE_CHECKING:
    from trialbook.analysis._frames import (
        compare_experiments,
        load_experiment_results,
        load_runs,
        print_results_summary,
        resolve_metric,
    )
    from trialbook.analysis._groups import seed_groups
    from trialbook.analysis._intervals import bootstrap_interval, t_interval


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'trialbook.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
