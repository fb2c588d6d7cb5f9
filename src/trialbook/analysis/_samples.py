"""Per-sample and per-evaluation values that compare, significance and reports read: a run's
latest evaluation per benchmark, a metric value as a number, and the per-sample values that back
a metric."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.store import Evaluation, Sample, Store

__all__ = [
    "INPUT_KEYS",
    "ChangedSample",
    "ChangedSamples",
    "bulk_latest_evaluations",
    "changed_samples",
    "choose_metric",
    "declared_field",
    "field_values",
    "latest_evaluations",
    "numeric",
    "sample_input",
    "sample_scores",
]

#: Where a sample's input is found among its stored fields (the first that holds text): the
#: evaluation records' ``input`` (SampleResult.input), then the names datasets give it. Free
#: text, never a slice.
INPUT_KEYS = ("input", "question", "query", "prompt", "review", "text", "document", "source")


def latest_evaluations(store: Store, run_id: str) -> dict[str, Evaluation]:
    """The latest evaluation of a run per benchmark (see
    :func:`trialbook.store.latest_by_benchmark`)."""
    from trialbook.store import latest_by_benchmark

    return latest_by_benchmark(store.evaluations(run_id))


def bulk_latest_evaluations(
    store: Store, run_ids: Sequence[str]
) -> dict[str, dict[str, Evaluation]]:
    """``{run_id: {benchmark: latest evaluation}}`` for many runs, read in one bulk query;
    runs without an evaluation are left out."""
    from trialbook.store import latest_by_benchmark

    out = {rid: latest_by_benchmark(evs) for rid, evs in store.bulk_evaluations(run_ids).items()}
    return {rid: per for rid, per in out.items() if per}


def choose_metric(benchmark: str, numbers: Sequence[str], metric: str | None) -> str:
    """The metric of ``benchmark`` to compare among its numeric metrics ``numbers``: ``metric``
    when given (a ConfigError with a did-you-mean when the benchmark lacks it), else
    ``accuracy`` when it has one, else its first."""
    if metric is None:
        if not numbers:
            raise ConfigError(f"The {benchmark} evaluations have no numeric metric to compare.")
        return "accuracy" if "accuracy" in numbers else numbers[0]
    if metric not in numbers:
        import difflib

        close = difflib.get_close_matches(metric, numbers, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"it has: {', '.join(numbers)}."
        raise ConfigError(
            f"Unknown metric {metric!r} on {benchmark}; {hint}", parameter="metric", value=metric
        )
    return metric


def numeric(value: Any) -> float | None:
    """A metric value as a float, or None when it is not a number (a dict of slices...)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def field_values(samples: Sequence[Sample], field: str) -> tuple[list[float], bool] | None:
    """Every sample's value of ``field`` (``"correct"``, ``"score"`` or a key of ``extra``) as
    floats, and whether they are 0/1 correctness (the field holds booleans); None when a
    sample lacks the field or holds something that is not a number there."""
    if not samples:
        return None
    if field == "correct":
        if any(s.correct is None for s in samples):
            return None
        return [1.0 if s.correct else 0.0 for s in samples], True
    if field == "score":
        scores = [s.score for s in samples]
        if any(v is None for v in scores):
            return None
        return [float(v) for v in scores if v is not None], False
    raw = [s.extra.get(field) for s in samples]
    if all(isinstance(v, bool) for v in raw):
        return [1.0 if v else 0.0 for v in raw], True
    values = [numeric(v) for v in raw]
    if any(v is None for v in values):
        return None
    return [float(v) for v in values if v is not None], False


def declared_field(benchmark: str | None, metric: str | None) -> str | None:
    """The per-sample field that benchmark ``benchmark`` (its registered name) declares for
    ``metric`` in :attr:`~trialbook.evaluation.BaseBenchmark.metric_fields`; None when the
    benchmark is not registered in this process or declares nothing for the metric."""
    if benchmark is None or metric is None:
        return None
    from trialbook.evaluation._registry import BenchmarkRegistry

    return BenchmarkRegistry.metric_field(benchmark, metric)


def sample_scores(
    samples: Sequence[Sample],
    metric: str | None,
    expected: float | None = None,
    *,
    benchmark: str | None = None,
) -> tuple[list[float], bool]:
    """Per-sample values for ``metric`` and whether they are 0/1 correctness.

    First the field the evaluation's benchmark declares for the metric (``metric_fields`` of
    the benchmark registered as ``benchmark``: GSM8K's ``accuracy_flexible`` is backed by
    each sample's ``correct_flexible``), when every sample has it. Then today's rules for
    benchmarks that declare nothing (results logged from a dict, a plugin not installed
    here): a metric the samples carry in ``extra`` under its own name wins; otherwise
    correctness stands for ``accuracy`` (or no metric), and for another metric only when its
    mean is the evaluation's value of that metric (``expected``); the graded ``score``
    likewise stands for a named metric only when it averages to ``expected`` (a benchmark's
    score is often not its first metric: a relative error read as exact match would flip the
    verdict). Returns ``([], False)`` when no per-sample values exist.

    Raises:
        ConfigError: the samples have scores, but they are not ``metric``.
    """
    field = declared_field(benchmark, metric)
    if field is not None:
        got = field_values(samples, field)
        if got is not None:
            return got
    if metric is not None:
        got = field_values(samples, metric) if metric not in ("correct", "score") else None
        if got is not None:
            return got
    if not samples:
        return [], False
    candidates: list[tuple[list[float], bool]] = []
    if all(s.correct is not None for s in samples):
        correct = [1.0 if s.correct else 0.0 for s in samples]
        if metric in (None, "accuracy"):
            return correct, True
        candidates.append((correct, True))
    if all(s.score is not None for s in samples):
        candidates.append(([float(s.score) for s in samples if s.score is not None], False))
    if not candidates:
        return [], False
    if metric is None:
        return candidates[-1]
    for values, binary in candidates:
        if expected is not None and _close_enough(sum(values) / len(values), expected):
            return values, binary
    means = " and ".join(
        f"{'correctness' if binary else 'score'} averages {sum(v) / len(v):.4g}"
        for v, binary in candidates
    )
    shown = "unknown" if expected is None else f"{expected:.4g}"
    where = (
        f"{benchmark} declares no per-sample field for it"
        if benchmark is not None and field is None
        else f"the samples lack {field!r}, the field {benchmark} declares for it"
        if field is not None
        else "no benchmark declares a per-sample field for it"
    )
    raise ConfigError(
        f"The per-sample results do not measure {metric!r} ({means}; {metric} is {shown}; "
        f"{where}); log {metric} with each sample (or declare it in the benchmark's "
        "metric_fields), name the metric they measure with metric=NAME, or compare seed groups "
        "with test='welch'."
    )


def _close_enough(a: float, b: float) -> bool:
    import math

    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def sample_input(sample: Sample) -> str:
    """The sample's input (prompt, question, review...) as stored, or "" when it has none."""
    for key in INPUT_KEYS:
        value = sample.extra.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


@dataclass(frozen=True)
class ChangedSample:
    """One sample two runs disagree on: its input and reference and each run's prediction
    (``a``: the baseline's, ``b``: the other run's)."""

    id: str
    input: str
    reference: str | None
    a: str | None
    b: str | None


@dataclass(frozen=True)
class ChangedSamples:
    """The samples of one benchmark whose correctness differs between two runs:
    ``regressions`` (the baseline ``a`` right, ``b`` wrong) and ``fixes`` (``a`` wrong, ``b``
    right), each in natural id order; ``shared`` is how many samples both runs have."""

    benchmark: str
    regressions: tuple[ChangedSample, ...]
    fixes: tuple[ChangedSample, ...]
    shared: int


def changed_samples(
    store: Store, run_a: str, run_b: str, benchmark: str | None = None
) -> ChangedSamples | None:
    """The samples that changed between two runs' latest evaluations on ``benchmark`` (by
    default the first benchmark, alphabetically, that both evaluated with sample ids in
    common); None when there is no such benchmark. Samples without correctness on either side
    are not counted as changed.

    Raises:
        RunNotFoundError: ``benchmark`` is given and one of the runs has no evaluation on it.
    """
    from trialbook._format import natural_key

    base, other = latest_evaluations(store, run_a), latest_evaluations(store, run_b)
    if benchmark is not None:
        for run_id, per in ((run_a, base), (run_b, other)):
            if benchmark not in per:
                store.evaluation_samples(run_id, benchmark)  # raises, naming what it has
        names = [benchmark]
    else:
        names = sorted(set(base) & set(other))
    for name in names:
        a = {x.sample_id: x for x in store.samples(base[name].id)}
        b = {x.sample_id: x for x in store.samples(other[name].id)}
        shared = a.keys() & b.keys()
        if not shared and benchmark is None:
            continue
        regressions: list[ChangedSample] = []
        fixes: list[ChangedSample] = []
        for sid in sorted(shared, key=natural_key):
            ca, cb = a[sid].correct, b[sid].correct
            if ca is None or cb is None or ca == cb:
                continue
            row = ChangedSample(
                sid,
                sample_input(a[sid]) or sample_input(b[sid]),
                a[sid].reference or b[sid].reference,
                a[sid].prediction,
                b[sid].prediction,
            )
            (regressions if ca else fixes).append(row)
        return ChangedSamples(name, tuple(regressions), tuple(fixes), len(shared))
    return None
