"""Small facts about metric names, shared by tracking, the CLI and analysis."""

from __future__ import annotations

from typing import Literal

__all__ = ["metric_goal"]

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
