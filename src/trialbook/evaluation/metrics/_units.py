"""Dimensional correctness: does a predicted quantity have the reference's physical dimension?

Units are parsed by pint (the ``units`` extra), imported on first use.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics._common import check_pair, mean, optional_import

__all__ = ["dimensional_correctness", "dimensional_correctness_score"]

_MINUS_SIGNS = str.maketrans({"\u2212": "-", "\u2013": "-"})


@functools.lru_cache(maxsize=1)
def _registry() -> Any:
    # One registry for the process: building it parses pint's unit definitions (~0.1 s), and
    # quantities from different registries cannot be compared.
    pint = optional_import("pint", extra="units", metric="dimensional_correctness")
    # Offset units (degC, degF) would otherwise fail to parse in "5 degC" (5 * degC).
    return pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


def _clean(text: str) -> str:
    # pint reads "−3 m" as 3 m: its tokenizer drops the Unicode minus.
    return text.translate(_MINUS_SIGNS).strip().rstrip(".").strip()


def _dimensionality(text: str) -> Any:
    """The dimensionality of a quantity, a unit or a dimension such as ``[length]/[time]``."""
    registry = _registry()
    cleaned = _clean(text)
    if not cleaned:
        raise ValueError("empty")
    if cleaned.startswith("["):
        return registry.get_dimensionality(cleaned)
    return registry.Quantity(cleaned).dimensionality


def _reference_dimensionality(reference: str) -> Any:
    try:
        return _dimensionality(reference)
    except ConfigError:
        raise
    except Exception as e:  # pint raises many types (UndefinedUnitError, ValueError, ...)
        raise ConfigError(
            f"dimensional_correctness cannot read the reference {reference!r} as a quantity, "
            f"a unit or a dimension ({e}); write it like '3 m/s', 'km/h' or '[length]/[time]'."
        ) from e


def _score(prediction: str, expected: Any) -> float:
    try:
        return float(_dimensionality(prediction) == expected)
    except ConfigError:
        raise
    except Exception:
        # An output pint cannot read has no dimension at all: it is wrong, not an error.
        return 0.0


def dimensional_correctness_score(prediction: str, reference: str) -> float:
    """1.0 when ``prediction`` has the same physical dimension as ``reference``, else 0.0.

    Only the dimension is compared, not the value or the unit: ``"12 km/h"`` is correct
    for ``"3.3 m/s"`` (both a length per time), ``"12 km"`` is not. ``reference`` may be a
    quantity (``"3.3 m/s"``), a unit (``"m/s"``) or a dimension in pint's notation
    (``"[length] / [time]"``). A prediction pint cannot read (``"fast"``, a sentence around
    the quantity) scores 0.0; pass the extracted quantity. Temperatures in degC/degF work.
    Needs pint: ``pip install 'trialbook[units]'``.
    """
    return _score(prediction, _reference_dimensionality(reference))


def dimensional_correctness(predictions: Sequence[str], references: Sequence[str]) -> float:
    """The fraction of predictions with the reference's dimension (see the per-sample score)."""
    check_pair("dimensional_correctness", predictions, references)
    # References repeat (a test set has a handful of target units): parse each once.
    expected: dict[str, Any] = {}
    scores = []
    for prediction, reference in zip(predictions, references, strict=True):
        if reference not in expected:
            expected[reference] = _reference_dimensionality(reference)
        scores.append(_score(prediction, expected[reference]))
    return mean(scores)
