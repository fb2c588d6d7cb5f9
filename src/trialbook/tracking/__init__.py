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
    from trialbook.tracking._recovery import recover_database

__all__ = [
    "ExperimentTracker",
    "Run",
    "RunFolder",
    "add_evaluation",
    "recover_database",
    "seed_everything",
    "start_run",
]


# Loads on first use (``trialbook db recover``): a run's process imports this package.
_LAZY = {"recover_database": "trialbook.tracking._recovery"}
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
