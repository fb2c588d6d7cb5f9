"""Small facts about metric names, shared by tracking, the CLI and analysis."""

from __future__ import annotations

from typing import Literal

__all__ = ["is_accuracy", "metric_goal"]

_LOWER_IS_BETTER = (
    "loss",
    "error",
    "err",
    "perplexity",
    "ppl",
    "mse",
    "mae",
    "rmse",
    "wer",
    "cer",
    "latency",
    "time",
    "regret",
)


def metric_goal(key: str) -> Literal["min", "max"]:
    """'min' for names that look like losses, errors or costs, 'max' otherwise.

    Used for the "best" value in summary.json and the default sort direction; pass
    ``metric_goals`` to :func:`trialbook.start_run` to override it for a run.
    """
    low = key.lower().rsplit("/", 1)[-1]
    return "min" if any(word in low for word in _LOWER_IS_BETTER) else "max"


def is_accuracy(key: str) -> bool:
    """True for an accuracy by its name: ``accuracy`` or ``*_accuracy`` as the last part of a
    key (``eval_accuracy``, ``metrics.val/accuracy``, ``eval.clinc150.in_scope_accuracy``).

    Used where a metric has to be chosen for the user: the one accuracy that seed groups never
    evaluated on a benchmark are tested on, and the headline metrics of ``analyze``.
    """
    last = key.replace(".", "/").rsplit("/", 1)[-1]
    return last == "accuracy" or last.endswith("_accuracy")
