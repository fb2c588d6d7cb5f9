"""Per-sample and per-evaluation values that compare, significance and reports read: a run's
latest evaluation per benchmark, a metric value as a number, and the per-sample values that back
a metric."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.store import Evaluation, Sample, Store

__all__ = ["latest_evaluations", "numeric", "sample_scores"]

def latest_evaluations(store: Store, run_id: str) -> dict[str, Evaluation]:
    """The latest evaluation of a run per benchmark."""
    return {ev.benchmark: ev for ev in store.evaluations(run_id)}


def numeric(value: Any) -> float | None:
    """A metric value as a float, or None when it is not a number (a dict of slices...)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def sample_scores(
    samples: Sequence[Sample], metric: str | None, expected: float | None = None
) -> tuple[list[float], bool]:
    """Per-sample values for ``metric`` and whether they are 0/1 correctness.

    A metric the samples carry in ``extra`` wins. Otherwise correctness stands for
    ``accuracy`` (or no metric), and for another metric only when its mean is the evaluation's
    value of that metric (``expected``); the graded ``score`` likewise stands for a named metric
    only when it averages to ``expected`` (a benchmark's score is often not its first metric:
    a relative error read as exact match would flip the verdict). Returns ``([], False)`` when
    no per-sample values exist.

    Raises:
        ConfigError: the samples have scores, but they are not ``metric``.
    """
    if metric is not None:
        extra = [numeric(s.extra.get(metric)) for s in samples]
        if samples and all(v is not None for v in extra):
            return [float(v) for v in extra if v is not None], False
    if not samples:
        return [], False
    candidates: list[tuple[list[float], bool]] = []
    if all(s.correct is not None for s in samples):
        correct = [1.0 if s.correct else 0.0 for s in samples]
        if metric in (None, "accuracy"):
            return correct, True
        candidates.append((correct, True))
    if all(s.score is not None for s in samples):
        candidates.append(([float(s.score) for s in samples if s.score is not None], False))
    if not candidates:
        return [], False
    if metric is None:
        return candidates[-1]
    for values, binary in candidates:
        if expected is not None and _same(sum(values) / len(values), expected):
            return values, binary
    means = " and ".join(
        f"{'correctness' if binary else 'score'} averages {sum(v) / len(v):.4g}"
        for v, binary in candidates
    )
    shown = "unknown" if expected is None else f"{expected:.4g}"
    raise ConfigError(
        f"The per-sample results do not measure {metric!r} ({means}; {metric} is {shown}); "
        f"log {metric} with each sample, name the metric they measure with --metric, or "
        "compare seed groups with --test welch."
    )


def _same(a: float, b: float) -> bool:
    import math

    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
