"""Confidence, variability and correctness from recorded training dynamics."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from trialbook.cartography._recorder import DynamicsRecorder

__all__ = ["cartography_metrics", "load_metrics"]


def cartography_metrics(dynamics: DynamicsRecorder | str | os.PathLike[str]) -> pd.DataFrame:
    """One row per example: ``id``, ``confidence`` (mean gold-label probability over epochs),
    ``variability`` (its population standard deviation, ``ddof=0``, as Swayamdipta et al.
    2020), ``correctness`` (fraction of epochs the gold label was predicted).

    ``dynamics`` is a :class:`DynamicsRecorder` or the path of a ``training_dynamics.jsonl``
    (or of the folder holding one).
    """
    import numpy as np
    import pandas as pd

    from trialbook.cartography._recorder import DynamicsRecorder

    recorder = (
        dynamics if isinstance(dynamics, DynamicsRecorder) else DynamicsRecorder.load(dynamics)
    )
    rows = recorder.rows()
    if not rows:
        raise ConfigError(
            "No training dynamics were recorded; call record(epoch, ids, gold_probs) each epoch."
        )
    probs = np.array([r["gold_prob"] for r in rows], dtype=float)
    correct = np.array([r["correct"] for r in rows], dtype=float)
    table: pd.DataFrame = pd.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "confidence": probs.mean(axis=1),
            "variability": probs.std(axis=1, ddof=0),
            "correctness": correct.mean(axis=1),
        }
    )
    return table


def load_metrics(cartography_output_dir: str | os.PathLike[str] | None) -> pd.DataFrame:
    """The metrics of the ``training_dynamics.jsonl`` in ``cartography_output_dir`` (a folder or
    the file itself); a missing file is a "Cartography metrics not found" error naming the call
    that records them."""
    path = Path(cartography_output_dir) if cartography_output_dir else None
    if path is None or not (path.is_file() or (path / "training_dynamics.jsonl").is_file()):
        raise ConfigError(
            f"Cartography metrics not found in {path}; record training dynamics first: "
            "train once with trialbook.cartography.DynamicsRecorder(path="
            f"'{path}') (recorder.record(epoch, ids, gold_probs) each epoch, then "
            "recorder.save()), or TrialbookDynamicsCallback with a Hugging Face Trainer."
        )
    return cartography_metrics(path)


def _column(metrics: Any, name: str) -> Any:
    if name not in getattr(metrics, "columns", ()):
        raise ConfigError(
            f"Cartography metrics have no {name!r} column; pass the DataFrame returned by "
            "trialbook.cartography.cartography_metrics()."
        )
    return metrics[name]
