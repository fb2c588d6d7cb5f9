"""Checks shared by the metrics: paired inputs, reference lists, means and optional imports."""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterable, Sequence, Sized
from types import ModuleType
from typing import Any

from trialbook.errors import ConfigError

__all__ = [
    "as_references",
    "check_list",
    "check_pair",
    "mean",
    "optional_import",
]


def check_list(metric: str, values: Any, label: str = "predictions") -> int:
    """The length of ``values``, a non-empty list (not a lone string) given to ``metric``."""
    # Anything sized and iterable pairs up (lists, tuples, numpy arrays, pandas Series); a
    # generator has no length to check against the references, a string is one value.
    sized_iterable = isinstance(values, Sized) and isinstance(values, Iterable)
    if isinstance(values, (str, bytes)) or not sized_iterable:
        raise ConfigError(
            f"{metric} takes a list of {label}, not a {type(values).__name__} ({values!r:.40}); "
            "pass a list with one item per sample (a single sample in a list of one)."
        )
    if len(values) == 0:
        # A mean over nothing is undefined; an empty list is almost always a bug upstream
        # (a filter that kept no sample), so it is an error rather than a silent NaN.
        raise ConfigError(f"{metric} got no {label}; pass at least one.")
    return len(values)


def check_pair(
    metric: str,
    predictions: Any,
    references: Any,
    *,
    labels: tuple[str, str] = ("predictions", "references"),
) -> int:
    """The common length of two lists that must pair up one to one, or a ConfigError."""
    n = check_list(metric, predictions, labels[0])
    m = check_list(metric, references, labels[1])
    if n != m:
        raise ConfigError(
            f"{metric} got {n} {labels[0]} but {m} {labels[1]}; pass one of each per sample, "
            "in the same order."
        )
    return n


def as_references(metric: str, reference: Any) -> list[str]:
    """One sample's references as a list of strings (a lone string is one reference)."""
    if isinstance(reference, str):
        return [reference]
    if isinstance(reference, Sequence):
        refs = [r if isinstance(r, str) else str(r) for r in reference]
        if not refs:
            raise ConfigError(
                f"{metric} got a sample with an empty list of references; give each sample at "
                "least one reference."
            )
        return refs
    return [str(reference)]


def mean(values: Iterable[float]) -> float:
    """The arithmetic mean (``math.fsum``, so long lists do not drift); NaN when empty."""
    items = list(values)
    return math.fsum(items) / len(items) if items else math.nan


def optional_import(module: str, *, extra: str, metric: str) -> ModuleType:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ConfigError(
            f"{metric} needs the optional package {module!r}, which is not installed; "
            f"install it with: pip install 'trialbook[{extra}]'."
        ) from e
