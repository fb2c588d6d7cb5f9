"""Confidence intervals for a handful of seeds (filled in below)."""

from __future__ import annotations

from collections.abc import Iterable


def t_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t interval of the mean."""
    raise NotImplementedError


def bootstrap_interval(
    values: Iterable[float], level: float = 0.95, resamples: int = 10000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    raise NotImplementedError
