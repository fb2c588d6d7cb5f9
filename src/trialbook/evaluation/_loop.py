"""The evaluation loop on a benchmark instance: prompts in batches to the model (or saved
predictions matched to the examples), every output extracted and checked, metrics, timing and
slices."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from trialbook._progress import Advance, progress_bar
from trialbook.errors import ConfigError, ModelError, TrialbookError
from trialbook.evaluation._benchmark import BaseBenchmark
from trialbook.evaluation._model import Model, as_model, model_texts
from trialbook.evaluation._predictions import PredictionsFile
from trialbook.evaluation._records import EvaluationResult, SampleResult, Timing
from trialbook.evaluation.metrics import slice_metrics

__all__ = ["DEFAULT_BATCH_SIZE", "run_benchmark"]

#: Batch size for a model that does not say (``Model.batch_size`` of 0 or less).
DEFAULT_BATCH_SIZE = 8
#: How many missing ids a result with ``allow_missing`` lists in its config.
_MISSING_SHOWN = 20


def run_benchmark(
    model: Any,
    bench: BaseBenchmark,
    *,
    split: str = "test",
    num_samples: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
) -> EvaluationResult:
    """Evaluate ``model`` on the benchmark instance ``bench``; see
    :func:`trialbook.evaluation.evaluate`, which also takes a benchmark's name."""
    _check_count("num_samples", num_samples)
    _check_count("batch_size", batch_size)
    if bench.splits and split not in bench.splits:
        raise ConfigError(
            f"Benchmark {bench.name!r} has no split {split!r}; use one of "
            f"{', '.join(bench.splits)}.",
            parameter="split",
            value=split,
        )
    started = time.perf_counter()
    if isinstance(model, PredictionsFile):
        samples, config = _score_predictions(bench, model, split, num_samples, progress)
        model_seconds = 0.0
    else:
        samples, config, model_seconds = _run_model(
            bench, as_model(model), split, num_samples, batch_size, progress
        )
    metrics = bench.metrics(samples)
    present = [f for f in bench.slice_fields if any(f in s.fields for s in samples)]
    slices = slice_metrics(samples, present, bench.metrics) if present else {}
    total = time.perf_counter() - started
    return EvaluationResult(
        benchmark=bench.name,
        split=split,
        metrics=metrics,
        samples=tuple(samples),
        timing=Timing.of(total, model_seconds, len(samples)),
        slices=slices,
        config={**bench.options(), "num_samples": num_samples, **config},
    )


def _check_count(name: str, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}.")


def _load(bench: BaseBenchmark, split: str, num_samples: int | None) -> list[dict[str, Any]]:
    data = list(bench.load_dataset(split, num_samples))
    # A benchmark may ignore num_samples (the seed's examples do): cut here as well.
    if num_samples is not None:
        data = data[:num_samples]
    if not data:
        raise ConfigError(
            f"Benchmark {bench.name!r} has no examples in split {split!r}; check its data."
        )
    return data


def _run_model(
    bench: BaseBenchmark,
    model: Model,
    split: str,
    num_samples: int | None,
    batch_size: int | None,
    progress: bool,
) -> tuple[list[SampleResult], dict[str, Any], float]:
    data = _load(bench, split, num_samples)
    prompts = [bench.format_prompt(s) for s in data]
    size = batch_size or (model.batch_size if model.batch_size > 0 else DEFAULT_BATCH_SIZE)
    results: list[SampleResult] = []
    model_seconds = 0.0
    try:
        with _progress_bar(len(data), f"{bench.name} · {model.name}", progress) as advance:
            for start in range(0, len(data), size):
                batch = prompts[start : start + size]
                t0 = time.perf_counter()
                try:
                    outputs = model.generate(batch)
                except TrialbookError:
                    raise
                except (ConnectionError, TimeoutError) as e:
                    raise ModelError(
                        f"Model {model.name!r} could not be reached ({e}); check that it is "
                        "running and its address."
                    ) from e
                except Exception as e:  # the user's model failed: one sentence, not a trace
                    raise ModelError(_model_failure(model.name, e)) from e
                elapsed = time.perf_counter() - t0
                model_seconds += elapsed
                outputs = model_texts(model.name, outputs, len(batch))
                latency = elapsed / len(batch)
                for offset, output in enumerate(outputs):
                    i = start + offset
                    scored = bench.score(data[i], output, position=i, prompt=batch[offset])
                    results.append(_with_latency(scored, latency))
                advance(len(batch))
    finally:
        model.close()
    return results, {"model": model.name, "batch_size": size}, model_seconds


def _model_failure(name: str, error: BaseException) -> str:
    """``Model 'bad' raised RuntimeError: boom (mymodel.py:3); fix ...``: where the error was
    raised is the innermost frame outside trialbook (the user's model code)."""
    import traceback
    from pathlib import Path

    import trialbook

    package = Path(trialbook.__file__).resolve().parent
    where = None
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        try:
            inside = Path(frame.filename).resolve().is_relative_to(package)
        except (OSError, ValueError):
            inside = False
        if not inside:
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            break
    detail = " ".join(str(error).split())
    what = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    at = f" ({where})" if where else ""
    return (
        f"Model {name!r} raised {what}{at}; fix the model function, or run it directly to "
        "see the traceback."
    )


def _with_latency(sample: SampleResult, latency: float | None) -> SampleResult:
    from dataclasses import replace

    return replace(sample, latency=latency)


def _score_predictions(
    bench: BaseBenchmark,
    source: PredictionsFile,
    split: str,
    num_samples: int | None,
    progress: bool,
) -> tuple[list[SampleResult], dict[str, Any]]:
    # The whole split is matched so that an id beyond num_samples is not "unknown".
    data = _load(bench, split, None)
    matched = source.match(bench, data, limit=num_samples)
    limit = len(data) if num_samples is None else min(num_samples, len(data))
    results: list[SampleResult] = []
    with _progress_bar(limit, f"{bench.name} · {source.path.name}", progress) as advance:
        # Scoring is fast: the bar moves in steps of 256 samples, not one call per sample.
        for start in range(0, limit, 256):
            for i in range(start, min(start + 256, limit)):
                output = matched.outputs[i]
                if output is None:
                    continue
                sample = data[i]
                prompt = bench.question(sample) or bench.format_prompt(sample)
                results.append(bench.score(sample, output, position=i, prompt=prompt))
            advance(min(256, limit - start))
    if not results:
        raise ConfigError(
            f"{source.path} has no prediction for the first {limit} examples of "
            f"{bench.name} {split}; check that the file is for this split."
        )
    config: dict[str, Any] = {
        "model": source.name,
        "predictions": str(source.path),
        "allow_missing": source.allow_missing,
        "missing": len(matched.missing),
    }
    if matched.missing:
        config["missing_ids"] = matched.missing[:_MISSING_SHOWN]
    return results, config


@contextmanager
def _progress_bar(total: int, label: str, enabled: bool) -> Iterator[Advance]:
    """The library's progress bar (:func:`trialbook._progress.progress_bar`) for one stage, or
    an :data:`Advance` that draws nothing."""
    with progress_bar(enabled) as stages:
        if stages is None:
            yield lambda n: None
            return
        with stages(label, total) as advance:
            yield advance
