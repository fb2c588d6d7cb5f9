"""Small aggregation helpers shared by the built-in benchmarks and the evaluation loop."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["mean"]


def mean(values: Iterable[float | None]) -> float:
    """The mean of the values that are not None; 0.0 when there are none."""
    total = 0.0
    count = 0
    for v in values:
        if v is not None:
            total += v
            count += 1
    return total / count if count else 0.0
