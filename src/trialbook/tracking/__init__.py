"""Tracking: runs, the background writer, run folders and provenance."""

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes
from trialbook.tracking._evaluations import add_evaluation
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._run import Run
from trialbook.tracking._seed import seed_everything
from trialbook.tracking._start import start_run
from trialbook.tracking._tracker import ExperimentTracker

if TYPE_CHECKING:
    from trialbook.tracking._follow import (
        LogChunk,
        MetricPoint,
        RunUpdate,
        follow_run,
        read_log,
    )
    from trialbook.tracking._recovery import recover_database

__all__ = [
    "ExperimentTracker",
    "LogChunk",
    "MetricPoint",
    "Run",
    "RunFolder",
    "RunUpdate",
    "add_evaluation",
    "follow_run",
    "read_log",
    "recover_database",
    "seed_everything",
    "start_run",
]


# Load on first use (``trialbook db recover``, ``tail``, the dashboard): a run's process
# imports this package and needs none of them.
_LAZY = {
    "recover_database": "trialbook.tracking._recovery",
    **{
        name: "trialbook.tracking._follow"
        for name in ("LogChunk", "MetricPoint", "RunUpdate", "follow_run", "read_log")
    },
}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
