"""Reports: plots (PNG and SVG), self-contained HTML reports, Markdown and LaTeX tables, and
the workspace analysis behind ``trialbook analyze``.

Write a report of one run, or of a baseline against a treatment::

    from trialbook.reporting import report

    report(["baseline", "treatment"], "comparison.html", root="./experiments")

Names are imported on first use, so importing this package stays light (no matplotlib).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes

# name -> module that defines it; resolved on first attribute access.
_LAZY = {
    "notebook_html": "trialbook.reporting._notebook",
    "default_report_path": "trialbook.reporting._html",
    "clip": "trialbook._format",
    "fmt_duration": "trialbook._format",
    "fmt_mean_std": "trialbook._format",
    "fmt_number": "trialbook._format",
    "printable": "trialbook._format",
    "MAX_CURVES": "trialbook.reporting._html",
    "MetricValues": "trialbook.reporting._entries",
    "ReportEntry": "trialbook.reporting._entries",
    "entry_values": "trialbook.reporting._entries",
    "metrics_table": "trialbook.reporting._entries",
    "report_entries": "trialbook.reporting._entries",
    "open_files": "trialbook.reporting._analyze",
    "json_text": "trialbook._values",
    "jsonable": "trialbook._values",
    "DYNAMICS_FILE": "trialbook.reporting._plots",
    "REGION_THRESHOLDS": "trialbook.reporting._plots",
    "AnalysisResult": "trialbook.reporting._analyze",
    "CurvePanel": "trialbook.reporting._plots",
    "CurvePanels": "trialbook.reporting._plots",
    "TrainingDynamics": "trialbook.reporting._plots",
    "analyze": "trialbook.reporting._analyze",
    "curve_order": "trialbook.reporting._plots",
    "data_map_regions": "trialbook.reporting._plots",
    "figure_data_uri": "trialbook.reporting._plots",
    "find_training_dynamics": "trialbook.reporting._plots",
    "latex_escape": "trialbook.reporting._tables",
    "load_training_dynamics": "trialbook.reporting._plots",
    "markdown_escape": "trialbook.reporting._tables",
    "min_curve_points": "trialbook.reporting._plots",
    "plot_curve_panels": "trialbook.reporting._plots",
    "plot_curves": "trialbook.reporting._plots",
    "plot_data_map": "trialbook.reporting._plots",
    "plot_metric_bars": "trialbook.reporting._plots",
    "plot_slices": "trialbook.reporting._plots",
    "render_report": "trialbook.reporting._html",
    "report": "trialbook.reporting._html",
    "save_figure": "trialbook.reporting._plots",
    "slices_from_samples": "trialbook.reporting._plots",
    "summary_table": "trialbook.reporting._tables",
    "to_latex": "trialbook.reporting._tables",
    "to_markdown": "trialbook.reporting._tables",
}

__all__ = [
    "DYNAMICS_FILE",
    "MAX_CURVES",
    "REGION_THRESHOLDS",
    "AnalysisResult",
    "CurvePanel",
    "CurvePanels",
    "MetricValues",
    "ReportEntry",
    "TrainingDynamics",
    "analyze",
    "clip",
    "curve_order",
    "data_map_regions",
    "default_report_path",
    "entry_values",
    "figure_data_uri",
    "find_training_dynamics",
    "fmt_duration",
    "fmt_mean_std",
    "fmt_number",
    "json_text",
    "jsonable",
    "latex_escape",
    "load_training_dynamics",
    "markdown_escape",
    "metrics_table",
    "min_curve_points",
    "notebook_html",
    "open_files",
    "plot_curve_panels",
    "plot_curves",
    "plot_data_map",
    "plot_metric_bars",
    "plot_slices",
    "printable",
    "render_report",
    "report",
    "report_entries",
    "save_figure",
    "slices_from_samples",
    "summary_table",
    "to_latex",
    "to_markdown",
]

if TYPE_CHECKING:
    from trialbook._format import clip, fmt_duration, fmt_mean_std, fmt_number, printable
    from trialbook._values import json_text, jsonable
    from trialbook.reporting._analyze import AnalysisResult, analyze, open_files
    from trialbook.reporting._entries import (
        MetricValues,
        ReportEntry,
        entry_values,
        metrics_table,
        report_entries,
    )
    from trialbook.reporting._html import MAX_CURVES, default_report_path, render_report, report
    from trialbook.reporting._notebook import notebook_html
    from trialbook.reporting._plots import (
        DYNAMICS_FILE,
        REGION_THRESHOLDS,
        CurvePanel,
        CurvePanels,
        TrainingDynamics,
        curve_order,
        data_map_regions,
        figure_data_uri,
        find_training_dynamics,
        load_training_dynamics,
        min_curve_points,
        plot_curve_panels,
        plot_curves,
        plot_data_map,
        plot_metric_bars,
        plot_slices,
        save_figure,
        slices_from_samples,
    )
    from trialbook.reporting._tables import (
        latex_escape,
        markdown_escape,
        summary_table,
        to_latex,
        to_markdown,
    )


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
