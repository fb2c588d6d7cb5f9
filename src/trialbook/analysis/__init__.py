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
    "ChangedSample": "trialbook.analysis._samples",
    "ChangedSamples": "trialbook.analysis._samples",
    "changed_samples": "trialbook.analysis._samples",
    "sample_input": "trialbook.analysis._samples",
    "GroupCurve": "trialbook.analysis._curves",
    "curve_points": "trialbook.analysis._curves",
    "group_curve": "trialbook.analysis._curves",
    "IntervalValue": "trialbook.analysis._compare",
    "MetricIntervals": "trialbook.analysis._compare",
    "differing_config": "trialbook.analysis._compare",
    "metric_intervals": "trialbook.analysis._compare",
    "Curve": "trialbook.analysis._history",
    "CurveX": "trialbook.analysis._history",
    "Downsampled": "trialbook.analysis._history",
    "downsample": "trialbook.analysis._history",
    "load_history": "trialbook.analysis._history",
    "read_curve": "trialbook.analysis._history",
    "leaderboard_rows": "trialbook.analysis._leaderboard",
    "check_names": "trialbook.analysis._scope",
    "Scope": "trialbook.analysis._scope",
    "list_runs": "trialbook.analysis._listing",
    "list_groups": "trialbook.analysis._listing",
    "RunListing": "trialbook.analysis._listing",
    "GroupListing": "trialbook.analysis._listing",
    "is_accuracy": "trialbook._metrics",
    "metric_goal": "trialbook._metrics",
    "TESTS": "trialbook.analysis._significance",
    "format_relative": "trialbook.analysis._compare",
    "relative_change": "trialbook.analysis._compare",
    "Comparison": "trialbook.analysis._compare",
    "Entry": "trialbook.analysis._refs",
    "MetricRow": "trialbook.analysis._compare",
    "TestResult": "trialbook.analysis._stats",
    "bootstrap_interval": "trialbook.analysis._intervals",
    "compare": "trialbook.analysis._compare",
    "compare_experiments": "trialbook.analysis._frames",
    "export_runs": "trialbook.analysis._export",
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
    "t_critical": "trialbook.analysis._intervals",
    "t_half_width": "trialbook.analysis._intervals",
    "t_interval": "trialbook.analysis._intervals",
    "check_level": "trialbook.analysis._intervals",
    "group_ref": "trialbook.analysis._groups",
    "left_out_note": "trialbook.analysis._groups",
    "welch_t_test": "trialbook.analysis._stats",
}

__all__ = [
    "TESTS",
    "ChangedSample",
    "ChangedSamples",
    "Comparison",
    "Curve",
    "CurveX",
    "Downsampled",
    "Entry",
    "GroupCurve",
    "GroupListing",
    "IntervalValue",
    "MetricIntervals",
    "MetricRow",
    "RunListing",
    "Scope",
    "TestResult",
    "bootstrap_interval",
    "changed_samples",
    "check_level",
    "check_names",
    "compare",
    "compare_experiments",
    "curve_points",
    "differing_config",
    "downsample",
    "export_runs",
    "format_relative",
    "group_curve",
    "group_interval",
    "group_ref",
    "holm",
    "is_accuracy",
    "leaderboard",
    "leaderboard_rows",
    "left_out_note",
    "list_groups",
    "list_runs",
    "load_experiment_results",
    "load_history",
    "load_runs",
    "mcnemar_exact",
    "metric_goal",
    "metric_intervals",
    "paired_bootstrap",
    "permutation_test",
    "print_results_summary",
    "read_curve",
    "relative_change",
    "resolve_metric",
    "resolve_refs",
    "sample_input",
    "seed_groups",
    "significance",
    "t_critical",
    "t_half_width",
    "t_interval",
    "welch_t_test",
]

if TYPE_CHECKING:
    from trialbook._metrics import is_accuracy, metric_goal
    from trialbook.analysis._compare import (
        Comparison,
        IntervalValue,
        MetricIntervals,
        MetricRow,
        compare,
        differing_config,
        format_relative,
        metric_intervals,
        relative_change,
    )
    from trialbook.analysis._curves import GroupCurve, curve_points, group_curve
    from trialbook.analysis._export import export_runs
    from trialbook.analysis._frames import (
        compare_experiments,
        load_experiment_results,
        load_runs,
        print_results_summary,
        resolve_metric,
    )
    from trialbook.analysis._groups import group_interval, group_ref, left_out_note, seed_groups
    from trialbook.analysis._history import (
        Curve,
        CurveX,
        Downsampled,
        downsample,
        load_history,
        read_curve,
    )
    from trialbook.analysis._intervals import (
        bootstrap_interval,
        check_level,
        t_critical,
        t_half_width,
        t_interval,
    )
    from trialbook.analysis._leaderboard import leaderboard, leaderboard_rows
    from trialbook.analysis._listing import GroupListing, RunListing, list_groups, list_runs
    from trialbook.analysis._refs import Entry, resolve_refs
    from trialbook.analysis._samples import (
        ChangedSample,
        ChangedSamples,
        changed_samples,
        sample_input,
    )
    from trialbook.analysis._scope import Scope, check_names
    from trialbook.analysis._significance import TESTS, significance
    from trialbook.analysis._stats import (
        TestResult,
        holm,
        mcnemar_exact,
        paired_bootstrap,
        permutation_test,
        welch_t_test,
    )


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
