"""The three regions of the data map: easy-to-learn, ambiguous, hard-to-learn."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialbook.cartography._metrics import _column
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["REGIONS", "assign_regions"]

REGIONS = ("easy-to-learn", "ambiguous", "hard-to-learn")


def assign_regions(
    metrics: pd.DataFrame,
    *,
    variability_threshold: float | None = 0.2,
    confidence_threshold: float = 0.5,
    ambiguous_fraction: float | None = None,
) -> pd.Series:
    """The region of each example (a Series aligned with ``metrics``).

    - ambiguous: variability >= ``variability_threshold`` (the model changed its mind across
      epochs); with ``ambiguous_fraction`` instead, the most variable fraction of examples
      (a quantile cut-off, as the paper's "top 33% most ambiguous").
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
                f"ambiguous_fraction {ambiguous_fraction} is not in (0, 1]; pass e.g. 0.33."
            )
        k = max(1, round(ambiguous_fraction * len(variability)))
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
