"""Scoring predictions per split with trialbook's metrics, and seed 003's result files.

Each split becomes trialbook evaluations with one result per sample, so that paired tests and
reports can compare two runs sample by sample:

* arithmetic: ``arithmetic/<split>`` with ``exact_match``, ``relative_error`` (the mean) and
  ``median_relative_error``; each sample's ``score`` is its relative error (lower is better;
  ``correct`` is its exact match), and each metric is also a sample field, so a paired test
  on any of them compares the right per-sample values;
* units: ``units/<split>`` for conversions (the same, plus ``dimensional_correctness``) and
  ``units_can_add/<split>`` for the can_add checks (``boolean_accuracy``; ``correct``).

The same numbers go to ``<results_dir>/<model>/seed_<seed>/evaluation_results.json``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from trialbook.evaluation.metrics import (
    boolean_accuracy,
    dimensional_correctness_score,
    exact_match,
    median_relative_error,
    parse_boolean,
    relative_error,
)

OOD_SPLITS = ("test_ood_magnitude", "test_ood_length", "test_ood_types")


def score_split(
    task: str, split: str, rows: Sequence[Mapping[str, Any]], predictions: Sequence[str]
) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """The split's summary metrics and its trialbook evaluations (benchmark -> result)."""
    numeric = [(r, p) for r, p in zip(rows, predictions, strict=True) if r["kind"] != "can_add"]
    checks = [(r, p) for r, p in zip(rows, predictions, strict=True) if r["kind"] == "can_add"]
    summary: dict[str, float] = {
        "n": float(len(rows)),
        "exact_match": exact_match(list(predictions), [str(r["target"]) for r in rows]),
    }
    evaluations: dict[str, dict[str, Any]] = {}
    if numeric:
        samples = []
        for row, prediction in numeric:
            error = relative_error(prediction, float(row["value"]))
            # Every metric of the benchmark is also a sample field: a paired test on
            # `exact_match` must not fall back to `score`, which is the relative error here.
            sample: dict[str, Any] = {
                "id": row["id"],
                "input": row["input"],
                "prediction": prediction,
                "reference": row["target"],
                "correct": prediction == row["target"],
                "score": error,
                "exact_match": 1.0 if prediction == row["target"] else 0.0,
                "relative_error": error,
                "median_relative_error": error,
            }
            if task == "arithmetic":
                sample["ops"] = row["ops"]
            else:
                sample["dimensional_correctness"] = dimensional_correctness_score(
                    prediction, str(row["target"])
                )
            samples.append(sample)
        metrics = {
            "exact_match": exact_match(
                [p for _, p in numeric], [str(r["target"]) for r, _ in numeric]
            ),
            "relative_error": sum(s["score"] for s in samples) / len(samples),
            "median_relative_error": median_relative_error(
                [p for _, p in numeric], [float(r["value"]) for r, _ in numeric]
            ),
        }
        if task == "units":
            metrics["dimensional_correctness"] = sum(
                s["dimensional_correctness"] for s in samples
            ) / len(samples)
        evaluations[f"{task}/{split}"] = {"metrics": metrics, "samples": samples}
        summary.update({k: v for k, v in metrics.items() if k != "exact_match"})
        summary["n_numeric"] = float(len(numeric))
    if checks:
        predictions_ = [p for _, p in checks]
        labels = [bool(r["label"]) for r, _ in checks]
        accuracy = boolean_accuracy(predictions_, labels)
        evaluations[f"{task}_can_add/{split}"] = {
            "metrics": {"boolean_accuracy": accuracy},
            "samples": [
                {
                    "id": r["id"],
                    "input": r["input"],
                    "prediction": p,
                    "reference": r["target"],
                    "correct": parse_boolean(p) == bool(r["label"]),
                    "boolean_accuracy": 1.0 if parse_boolean(p) == bool(r["label"]) else 0.0,
                }
                for r, p in checks
            ],
        }
        summary["boolean_accuracy"] = accuracy
        summary["n_can_add"] = float(len(checks))
    return summary, evaluations


def atomic_write_json(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and ``os.replace``: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, allow_nan=True)
            out.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def results_path(results_dir: str | Path, model: str, seed: int | None) -> Path:
    return Path(results_dir) / model / f"seed_{seed}" / "evaluation_results.json"


def _bar(value: float) -> float:
    # An infinite mean (an unreadable answer) is drawn as a tall bar rather than breaking the plot.
    return value if math.isfinite(value) else 1e6


def plot_results(results: Mapping[str, Mapping[str, Mapping[str, float]]], path: Path) -> Path:
    """Bars of in-distribution against out-of-distribution splits, one colour per model:
    mean relative error (log scale, lower is better) and exact match."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(results)
    splits = list(next(iter(results.values())))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    width = 0.8 / max(1, len(models))
    for m, model in enumerate(models):
        xs = [i + m * width for i in range(len(splits))]
        errors = [_bar(results[model][s].get("relative_error", math.nan)) for s in splits]
        axes[0].bar(xs, errors, width, label=model)
        axes[1].bar(xs, [results[model][s]["exact_match"] for s in splits], width, label=model)
    for ax, title in zip(
        axes, ("mean relative error (lower is better)", "exact match"), strict=True
    ):
        ax.set_xticks([i + width * (len(models) - 1) / 2 for i in range(len(splits))])
        ax.set_xticklabels([s.replace("test_", "") for s in splits], rotation=15)
        ax.set_title(title)
    axes[0].set_yscale("symlog", linthresh=1e-4)
    axes[1].set_ylim(0, 1)
    axes[1].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
