"""Tracking: runs, the background writer, run folders and provenance."""

from trialbook.tracking._evaluations import add_evaluation
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._recovery import recover_database
from trialbook.tracking._run import Run
from trialbook.tracking._seed import seed_everything
from trialbook.tracking._start import start_run
from trialbook.tracking._tracker import ExperimentTracker

__all__ = [
    "ExperimentTracker",
    "Run",
    "RunFolder",
    "add_evaluation",
    "recover_database",
    "seed_everything",
    "start_run",
]
