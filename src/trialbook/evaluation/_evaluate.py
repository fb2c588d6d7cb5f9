"""``evaluate``: a model on a benchmark given by name or as an instance."""

from __future__ import annotations

from typing import Any

from trialbook.errors import ConfigError
from trialbook.evaluation._benchmark import BaseBenchmark
from trialbook.evaluation._loop import run_benchmark
from trialbook.evaluation._records import EvaluationResult
from trialbook.evaluation._registry import BenchmarkRegistry

__all__ = ["evaluate"]


def evaluate(
    model: Any,
    benchmark: str | BaseBenchmark,
    *,
    split: str = "test",
    num_samples: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    **options: Any,
) -> EvaluationResult:
    """Evaluate ``model`` on ``benchmark`` and return every per-sample result with metrics.

    Args:
        model: a :class:`~trialbook.evaluation.Model`, a function from a list of prompts to a
            list of texts, or a :class:`~trialbook.evaluation.PredictionsFile` of saved outputs.
        benchmark: a registered name (``"gsm8k"``) or a benchmark instance.
        split: the dataset split.
        num_samples: evaluate only the first N examples of the split.
        batch_size: prompts per ``generate`` call (default: the model's own ``batch_size``).
        progress: show a progress bar over samples (only when stderr is a terminal).
        options: benchmark options when ``benchmark`` is a name (GSM8K: ``extraction``,
            ``shots``).

    Raises:
        ConfigError: unknown benchmark, split or option; a bad predictions file; a model
            that returns the wrong number of texts. The model's own errors (an unreachable
            endpoint) pass through as :class:`~trialbook.errors.TrialbookError`.
        ModelError: the model raised any other exception (the message names its type,
            text and the file:line in the model's code; the original is its ``__cause__``).
    """
    if isinstance(benchmark, str):
        bench = BenchmarkRegistry.get(benchmark, **options)
    else:
        if options:
            raise ConfigError(
                f"Options {', '.join(sorted(options))} apply to a benchmark name; set them "
                f"when building {benchmark!r} instead."
            )
        bench = benchmark
    return run_benchmark(
        model,
        bench,
        split=split,
        num_samples=num_samples,
        batch_size=batch_size,
        progress=progress,
    )
