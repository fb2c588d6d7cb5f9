"""The three regions of the data map: easy-to-learn, ambiguous, hard-to-learn."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialbook.cartography._metrics import _column
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["REGIONS", "assign_regions", "top_count"]

REGIONS = ("easy-to-learn", "ambiguous", "hard-to-learn")


def top_count(fraction: float, n: int) -> int:
    """How many of ``n`` examples "the top ``fraction``" is: ``ceil(fraction * n)``, computed on
    the decimal the fraction is written as (0.3 of 10 is 3, not the 4 that the float product
    3.0000000000000004 would give), so at least one when ``fraction > 0`` and ``n > 0``, and
    never more than ``n``.

    The reference implementation (Swayamdipta et al., allenai/cartography,
    ``selection/train_dy_filtering.py``) keeps ``int(fraction * n) + 1``: the same count,
    except when ``fraction * n`` is a whole number, where it keeps one more (0.25 of 100: 25
    here, 26 there).
    """
    import math
    from fractions import Fraction

    if n <= 0 or fraction <= 0:
        return 0
    return min(n, math.ceil(Fraction(repr(float(fraction))) * n))


def assign_regions(
    metrics: pd.DataFrame,
    *,
    variability_threshold: float | None = 0.2,
    confidence_threshold: float = 0.5,
    ambiguous_fraction: float | None = None,
) -> pd.Series:
    """The region of each example (a Series aligned with ``metrics``).

    - ambiguous: variability >= ``variability_threshold`` (the model changed its mind across
      epochs); with ``ambiguous_fraction`` instead, the :func:`top_count` most variable
      examples (a quantile cut-off, as the paper's "top 33% most ambiguous").
    - easy-to-learn: the rest with confidence >= ``confidence_threshold``.
    - hard-to-learn: the rest with confidence below it (consistently wrong: often mislabelled).
    """
    import numpy as np
    import pandas as pd

    confidence = _column(metrics, "confidence").to_numpy(dtype=float)
    variability = _column(metrics, "variability").to_numpy(dtype=float)
    if ambiguous_fraction is not None:
        if not 0 < ambiguous_fraction <= 1:
            raise ConfigError(
                f"ambiguous_fraction {ambiguous_fraction} is not in (0, 1]; pass e.g. 0.33.",
                parameter="ambiguous_fraction",
                value=ambiguous_fraction,
            )
        k = top_count(ambiguous_fraction, len(variability))
        ambiguous = np.zeros(len(variability), dtype=bool)
        # stable sort: ties broken by position, so the result is deterministic
        ambiguous[np.argsort(-variability, kind="stable")[:k]] = True
    elif variability_threshold is not None:
        ambiguous = variability >= variability_threshold
    else:
        raise ConfigError(
            "assign_regions needs variability_threshold or ambiguous_fraction; pass one."
        )
    region = np.where(
        ambiguous, REGIONS[1], np.where(confidence >= confidence_threshold, REGIONS[0], REGIONS[2])
    )
    return pd.Series(region, index=metrics.index, name="region")
