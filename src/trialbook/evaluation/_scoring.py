"""Small aggregation helpers shared by the built-in benchmarks and the evaluation loop."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from trialbook.evaluation._records import SampleResult

__all__ = ["mean", "slice_metrics"]


def mean(values: Iterable[float | None]) -> float:
    """The mean of the values that are not None; 0.0 when there are none."""
    total = 0.0
    count = 0
    for v in values:
        if v is not None:
            total += v
            count += 1
    return total / count if count else 0.0


def slice_metrics(
    samples: Sequence[SampleResult],
    fields: Iterable[str],
    metrics: Callable[[Sequence[SampleResult]], Mapping[str, float]],
) -> dict[str, dict[str, dict[str, float]]]:
    """field -> value -> metrics over the samples with that value, for each field present."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for field in fields:
        groups: dict[str, list[SampleResult]] = {}
        for s in samples:
            value: Any = s.fields.get(field)
            if value is not None:
                groups.setdefault(str(value), []).append(s)
        if groups:
            out[field] = {v: dict(metrics(group)) for v, group in sorted(groups.items())}
    return out
