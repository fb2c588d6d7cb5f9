"""Confidence intervals of a mean over a handful of values (seeds): Student-t and bootstrap.

Both leave NaN values out (a run that did not log the metric) and need at least two values:
one seed says nothing about the spread.

This module is the one home of the Student-t interval: :func:`t_critical` (the two-sided
quantile, also used by Welch's test) and :func:`t_half_width` (vectorised over groups or
steps) are what :func:`t_interval`, ``seed_groups``, the leaderboard and the curves' ``ci``
band compute, so they all give the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "bootstrap_interval",
    "check_level",
    "finite_values",
    "t_critical",
    "t_half_width",
    "t_interval",
]

#: Resampled means computed per numpy batch, so memory stays bounded for long inputs.
_BATCH_CELLS = 4_000_000


def check_level(level: float) -> float:
    """``level`` as a float strictly between 0 and 1, or a ConfigError naming it."""
    try:
        value = float(level)
    except (TypeError, ValueError):
        value = math.nan
    if not 0.0 < value < 1.0:
        raise ConfigError(
            f"Confidence level {level!r} is not between 0 and 1; use e.g. 0.95 for a 95% interval.",
            parameter="level",
            value=level,
        )
    return value


def finite_values(values: Iterable[float]) -> npt.NDArray[np.float64]:
    """The values as a float array without NaN (missing values)."""
    import numpy as np

    try:
        array = np.asarray(list(values), dtype=float).ravel()
    except (TypeError, ValueError) as e:
        raise ConfigError(f"An interval needs numbers; got values that are not ({e}).") from e
    finite: npt.NDArray[np.float64] = array[~np.isnan(array)]
    return finite


def _need_two(array: npt.NDArray[np.float64], level: float) -> None:
    if array.size < 2:
        raise ConfigError(
            f"A {level:.0%} interval needs at least 2 values, got n={array.size}; "
            "run more seeds (NaN values do not count)."
        )


def t_critical(level: float, df: Any) -> Any:
    """The two-sided Student-t critical value ``t((1 + level) / 2, df)``: a float for a float
    ``df``, an array for an array (``df`` may be fractional, as Welch's)."""
    from scipy import stats

    return stats.t.ppf((1.0 + level) / 2.0, df)


def t_half_width(std: Any, n: Any, level: float = 0.95) -> Any:
    """Half the width of the Student-t interval of a mean: ``t(level, n-1) * std / sqrt(n)``.

    Vectorised: ``std`` and ``n`` may be numbers or arrays (one per group, or per step of a
    curve). Where ``n < 2`` the half width is NaN (one value says nothing about the spread);
    where ``std`` is 0 it is 0 (identical values: the interval collapses to the mean).
    """
    import numpy as np

    sd = np.asarray(std, dtype=float)
    count = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = t_critical(level, np.maximum(count - 1.0, 1.0))
        half = np.where(sd == 0.0, 0.0, t * sd / np.sqrt(np.maximum(count, 1.0)))
    out = np.where(count >= 2, half, np.nan)
    return float(out) if out.ndim == 0 else out


def t_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float]:
    """Student-t confidence interval of the mean of ``values``.

    ``mean +- t(level, n-1) * std / sqrt(n)`` with the sample standard deviation (ddof=1);
    the same as ``scipy.stats.t.interval(level, n-1, loc=mean, scale=sem)``.

    Raises:
        ConfigError: fewer than two non-NaN values, or ``level`` not in (0, 1).
    """
    level = check_level(level)
    array = finite_values(values)
    _need_two(array, level)
    mean = float(array.mean())
    half = t_half_width(float(array.std(ddof=1)), array.size, level)
    if not math.isfinite(half):
        return (math.nan, math.nan)
    return (mean - half, mean + half)


def bootstrap_interval(
    values: Iterable[float], level: float = 0.95, resamples: int = 10000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values``.

    Draws ``resamples`` samples with replacement using ``numpy.random.default_rng(seed)``
    and returns the ``(1-level)/2`` and ``(1+level)/2`` quantiles of their means; the same
    seed gives the same interval.

    Raises:
        ConfigError: fewer than two non-NaN values, ``level`` not in (0, 1), or
            ``resamples`` below 1.
    """
    import numpy as np

    level = check_level(level)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ConfigError(
            f"resamples={resamples!r} must be a whole number of at least 1.",
            parameter="resamples",
            value=resamples,
        )
    array = finite_values(values)
    _need_two(array, level)
    rng = np.random.default_rng(seed)
    n = array.size
    batch = max(1, _BATCH_CELLS // n)
    means = np.empty(resamples)
    for start in range(0, resamples, batch):
        stop = min(start + batch, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = array[idx].mean(axis=1)
    low, high = np.quantile(means, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return (float(low), float(high))
