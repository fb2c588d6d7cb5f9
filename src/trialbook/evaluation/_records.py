"""What an evaluation produces: per-sample results, timing and the result as a whole.

These records are the contract between benchmarks, models, metrics and the tracker:
``run.log_evaluation(name, result)`` takes an :class:`EvaluationResult` (through ``to_dict``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EvaluationResult", "SampleResult", "Timing"]


@dataclass(frozen=True)
class SampleResult:
    """One evaluated example.

    Attributes:
        id: the example's id in its dataset (stable across runs: paired tests match on it).
        input: the prompt the model was given.
        output: the model's raw output text.
        extracted: the answer extracted from ``output`` (None when none could be found).
        reference: the gold answer (as the benchmark compares it).
        correct: whether the extracted answer is right (None for graded-only metrics).
        score: a graded score in [0, 1] (or the metric's own range), when the benchmark has one;
            ``1.0``/``0.0`` for correct/incorrect otherwise.
        latency: seconds the model took for this example (its batch's time divided by the
            batch size when the model works in batches), None for saved predictions.
        fields: the example's own fields usable for slicing (``category``, ``language``,
            ``difficulty``...).
        extra: anything else per example (other metrics' scores, the format check...).
    """

    id: str
    input: str
    output: str
    extracted: Any
    reference: Any
    correct: bool | None = None
    score: float | None = None
    latency: float | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with ``prediction`` (the extracted answer) as the tracker expects."""
        return {
            "id": self.id,
            "input": self.input,
            "output": self.output,
            "prediction": None if self.extracted is None else str(self.extracted),
            "reference": _reference_text(self.reference),
            "correct": self.correct,
            "score": self.score,
            "latency": self.latency,
            **({"fields": dict(self.fields)} if self.fields else {}),
            **dict(self.extra),
        }


def _reference_text(value: Any) -> str | None:
    """A gold answer as text: a string as it is, anything else (a list of accepted answers,
    a number) as JSON text, never a Python repr."""
    if value is None or isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True)
class Timing:
    """How long an evaluation took.

    Attributes:
        total: wall-clock seconds for the whole evaluation (model and scoring).
        model: seconds spent in the model (0 for saved predictions).
        per_sample: ``total / n``.
        throughput: samples per second (``n / total``).
    """

    total: float
    model: float
    per_sample: float
    throughput: float

    @classmethod
    def of(cls, total: float, model: float, n: int) -> Timing:
        return cls(
            total=total,
            model=model,
            per_sample=total / n if n else 0.0,
            throughput=n / total if total > 0 else 0.0,
        )

    def to_dict(self) -> dict[str, float]:
        return {
            "total": self.total,
            "model": self.model,
            "per_sample": self.per_sample,
            "throughput": self.throughput,
        }


@dataclass(frozen=True)
class EvaluationResult:
    """A benchmark's result for one model: metrics, every sample, timing.

    Attributes:
        benchmark: the registered benchmark name (``"gsm8k"``).
        split: the dataset split evaluated.
        metrics: metric name -> value over all samples (e.g. ``accuracy``,
            ``format_compliance``, ``partial_accuracy``).
        samples: per-sample results, in dataset order.
        timing: see :class:`Timing`.
        slices: field -> field value -> metric name -> value, for every field the
            evaluation was sliced by (e.g. ``{"category": {"algebra": {"accuracy": 0.8}}}``).
        config: the options the evaluation ran with (extraction mode, shots...).
    """

    benchmark: str
    split: str | None
    metrics: Mapping[str, float]
    samples: tuple[SampleResult, ...]
    timing: Timing
    slices: Mapping[str, Mapping[str, Mapping[str, float]]] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.samples)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; what ``run.log_evaluation(name, result)`` stores."""
        return {
            "benchmark": self.benchmark,
            "split": self.split,
            "n": self.n,
            "metrics": dict(self.metrics),
            "timing": self.timing.to_dict(),
            "slices": {f: {v: dict(m) for v, m in vals.items()} for f, vals in self.slices.items()},
            "config": dict(self.config),
            "samples": [s.to_dict() for s in self.samples],
        }
