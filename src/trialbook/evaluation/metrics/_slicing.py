"""Metrics per value of a sample field (language, category, difficulty...)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from trialbook.errors import ConfigError
from trialbook.evaluation._records import SampleResult
from trialbook.evaluation.metrics._common import check_list

__all__ = ["slice_by", "slice_metrics"]

# The slice of samples that lack the field: kept visible rather than dropped.
MISSING = "(missing)"

SampleMetric = Callable[[Sequence[Any]], float] | str
SampleMetrics = Callable[[Sequence[Any]], Mapping[str, float]] | Mapping[str, SampleMetric]

_ABSENT = object()


def _field(sample: Any, name: str) -> Any:
    if isinstance(sample, SampleResult):
        return sample.fields.get(name, _ABSENT)
    if isinstance(sample, Mapping):
        if name in sample:
            return sample[name]
        fields = sample.get("fields")
        if isinstance(fields, Mapping):
            return fields.get(name, _ABSENT)
        return _ABSENT
    return getattr(sample, name, _ABSENT)


def _field_names(samples: Sequence[Any]) -> set[str]:
    names: set[str] = set()
    for sample in samples[:1000]:  # enough to suggest a spelling; slicing stays linear
        if isinstance(sample, SampleResult):
            names.update(sample.fields)
        elif isinstance(sample, Mapping):
            names.update(str(k) for k in sample)
            fields = sample.get("fields")
            if isinstance(fields, Mapping):
                names.update(str(k) for k in fields)
    return names


def _value(sample: Any, name: str) -> Any:
    """A per-sample value by name: an attribute (``correct``, ``score``) or an ``extra`` key."""
    if isinstance(sample, SampleResult):
        if name in sample.extra:
            return sample.extra[name]
        return getattr(sample, name, None)
    if isinstance(sample, Mapping):
        return sample.get(name)
    return getattr(sample, name, None)


def _mean_of(name: str) -> Callable[[Sequence[Any]], float]:
    def metric(samples: Sequence[Any]) -> float:
        numbers = []
        for sample in samples:
            value = _value(sample, name)
            if value is None:
                continue
            try:
                numbers.append(float(value))
            except (TypeError, ValueError):
                raise ConfigError(
                    f"Cannot average the per-sample value {name!r}: one sample has {value!r}, "
                    "which is not a number; name a numeric value ('correct', 'score', an extra "
                    "key) or pass a function of the samples."
                ) from None
        return math.fsum(numbers) / len(numbers) if numbers else math.nan

    return metric


def _groups(samples: Sequence[Any], field: str) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    missing: list[Any] = []
    for sample in samples:
        value = _field(sample, field)
        if value is _ABSENT or value is None:
            missing.append(sample)
        else:
            groups.setdefault(str(value), []).append(sample)
    if not groups:
        known = sorted(_field_names(samples))
        close = difflib.get_close_matches(field, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"the samples have: {', '.join(known)}."
        raise ConfigError(f"No sample has the field {field!r} to slice by; {hint}")
    out = dict(sorted(groups.items()))
    if missing:
        out[MISSING] = missing
    return out


def _as_metric(metric: SampleMetric) -> Callable[[Sequence[Any]], float]:
    if isinstance(metric, str):
        return _mean_of(metric)
    if callable(metric):
        return metric
    raise ConfigError(
        f"A slice metric must be a function of a list of samples or the name of a per-sample "
        f"value such as 'correct' or 'score', not a {type(metric).__name__}."
    )


def slice_by(samples: Sequence[Any], field: str, metric: SampleMetric) -> dict[str, float]:
    """``{value of field: metric over the samples with that value}``.

    ``samples`` are :class:`~trialbook.evaluation.SampleResult` records (the field is looked
    up in ``fields``) or mappings (a key, or a key of their ``"fields"``). ``metric`` is a
    function of a list of samples, or the name of a per-sample value to average (``"correct"``
    gives accuracy, ``"score"`` the mean score, or any key of ``extra``; None values are
    skipped, NaN when all are None). Values are keyed by ``str(value)``, sorted; samples
    without the field form the slice ``"(missing)"``. No sample with the field: ConfigError.

    Example: ``slice_by(result.samples, "language", "correct")`` ->
    ``{"de": 0.5, "en": 1.0}``.
    """
    check_list("slice_by", samples, "samples")
    fn = _as_metric(metric)
    return {value: float(fn(group)) for value, group in _groups(samples, field).items()}


def slice_metrics(
    samples: Sequence[Any],
    fields: Iterable[str],
    metrics: SampleMetrics,
) -> dict[str, dict[str, dict[str, float]]]:
    """field -> value -> metric name -> value, the shape of ``EvaluationResult.slices``.

    ``metrics`` maps metric names to what :func:`slice_by` takes (a function of a list of
    samples, or a per-sample value name), or is one function from a list of samples to a
    mapping of metric names to values (a benchmark's own ``metrics`` method).

    Example: ``slice_metrics(samples, ["language"], {"accuracy": "correct"})`` ->
    ``{"language": {"de": {"accuracy": 0.5}, "en": {"accuracy": 1.0}}}``.
    """
    check_list("slice_metrics", samples, "samples")
    if isinstance(fields, str):
        fields = [fields]
    if isinstance(metrics, Mapping):
        named = {name: _as_metric(m) for name, m in metrics.items()}

        def compute(group: Sequence[Any]) -> dict[str, float]:
            return {name: float(fn(group)) for name, fn in named.items()}

    elif callable(metrics):
        whole = metrics

        def compute(group: Sequence[Any]) -> dict[str, float]:
            return {name: float(v) for name, v in whole(group).items()}

    else:
        raise ConfigError(
            "slice_metrics takes metrics as a mapping of names to metrics, or a function from "
            f"a list of samples to a mapping of metric values, not a {type(metrics).__name__}."
        )
    return {
        field: {value: compute(group) for value, group in _groups(samples, field).items()}
        for field in fields
    }
