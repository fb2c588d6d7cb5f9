"""``significance``: test the first entry against each of the others on one benchmark metric,
choosing the test from the data (``test="auto"``) and correcting with Holm when several."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

from trialbook._workspace import store_scope as store_scope
from trialbook.analysis._refs import Entry, resolve_refs
from trialbook.analysis._samples import (
    choose_metric,
    latest_evaluations,
    numeric,
    sample_scores,
)
from trialbook.analysis._scope import Scope
from trialbook.analysis._stats import (
    BOOTSTRAP_MIN_N,
    TestResult,
    TestResults,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    permutation_test,
    welch_t_test,
)
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.store import Store

__all__ = ["TESTS", "significance"]

TestChoice = Literal["auto", "bootstrap", "permutation", "mcnemar", "welch"]
TESTS: tuple[str, ...] = ("auto", "bootstrap", "permutation", "mcnemar", "welch")


@dataclass(frozen=True)
class Target:
    """What is compared: a benchmark's metric, or (benchmark None) a logged training metric."""

    benchmark: str | None
    metric: str


def _names(items: Sequence[str] | set[str]) -> str:
    return ", ".join(sorted(items)) or "none"


def choose_target(
    entries: Sequence[Entry], store: Store, benchmark: str | None, metric: str | None
) -> Target:
    """The benchmark and metric every entry has; one sentence naming what each has if none."""
    per_entry: list[set[str]] = []
    for e in entries:
        have: set[str] = set()
        for r in e.runs:
            have |= set(latest_evaluations(store, r.id))
        per_entry.append(have)
    if benchmark is None and metric is not None:
        common = set.intersection(*per_entry) if per_entry else set()
        first = latest_evaluations(store, entries[0].runs[0].id)
        with_metric = sorted(
            b for b in common if b in first and numeric(first[b].metrics.get(metric)) is not None
        )
        if len(with_metric) == 1:
            benchmark = with_metric[0]
        elif not with_metric and _has_logged_metric(entries, store, metric):
            return Target(None, metric)
    if benchmark is not None:
        for e, have in zip(entries, per_entry, strict=True):
            if benchmark not in have:
                raise ConfigError(
                    f"{e.label} has no evaluation on {benchmark!r} (it has: {_names(have)}); "
                    "pick a benchmark both have with benchmark=NAME.",
                    parameter="benchmark",
                    value=benchmark,
                )
    else:
        common = set.intersection(*per_entry) if per_entry else set()
        if len(common) == 1:
            benchmark = common.pop()
        elif len(common) > 1:
            raise ConfigError(
                f"The entries share {len(common)} benchmarks ({_names(common)}); "
                "choose one with benchmark=NAME.",
                parameter="benchmark",
            )
        elif metric is not None and _has_logged_metric(entries, store, metric):
            return Target(None, metric)
        else:
            shared = _shared_logged_metrics(entries, store)
            if metric is not None:
                from trialbook.config._suggest import closest

                hint = closest(metric, shared)
                they = f"they all log: {_names(shared[:8])}" if shared else "they share none"
                tail = f"; did you mean {hint!r}? ({they})" if hint else f" ({they})"
                raise ConfigError(
                    f"No benchmark the entries share has {metric!r}, and not every run logged "
                    f"it{tail}.",
                    parameter="metric",
                    value=metric,
                )
            from trialbook._metrics import is_accuracy

            accuracy = [m for m in shared if is_accuracy(m)]
            if not any(per_entry) and len(accuracy) == 1:
                # Nothing evaluated on a benchmark: the one logged accuracy is what they measure.
                return Target(None, accuracy[0])
            has = "; ".join(
                f"{e.label}: {_names(h)}" for e, h in zip(entries, per_entry, strict=True)
            )
            more = f" and {len(shared) - 8} more" if len(shared) > 8 else ""
            listed = _names(shared[:8]) + more
            they_log = f" (they all log: {listed})" if shared else ""
            raise ConfigError(
                f"The entries have no benchmark in common ({has}); evaluate them on the same "
                f"benchmark, or compare a logged metric with metric=NAME{they_log}.",
                parameter="metric",
            )
    ev = latest_evaluations(store, entries[0].runs[0].id).get(benchmark)
    if ev is None:  # a group whose first run lacks it; any run that has it will do
        ev = next(
            latest_evaluations(store, r.id)[benchmark]
            for r in entries[0].runs
            if benchmark in latest_evaluations(store, r.id)
        )
    numbers = [k for k, v in ev.metrics.items() if numeric(v) is not None]
    return Target(benchmark, choose_metric(benchmark, numbers, metric))


def _shared_logged_metrics(entries: Sequence[Entry], store: Store) -> list[str]:
    """The logged metrics every run of every entry has (system metrics left out)."""
    ids = [r.id for e in entries for r in e.runs]
    sums = store.metric_summaries(ids)
    keys = [set(sums.get(i, {})) for i in ids]
    common = set.intersection(*keys) if keys else set()
    return sorted(k for k in common if not k.startswith("system/"))


def _has_logged_metric(entries: Sequence[Entry], store: Store, metric: str) -> bool:
    ids = [r.id for e in entries for r in e.runs]
    sums = store.metric_summaries(ids, [metric])
    return all(metric in sums.get(i, {}) for i in ids)


def entry_values(entry: Entry, store: Store, target: Target) -> list[float]:
    """One value per run of the entry: the final metric or the latest evaluation's value."""
    out: list[float] = []
    if target.benchmark is None:
        sums = store.metric_summaries(entry.run_ids, [target.metric])
        for r in entry.runs:
            s = sums.get(r.id, {}).get(target.metric)
            if s is not None:
                out.append(s.last)
        return out
    for r in entry.runs:
        ev = latest_evaluations(store, r.id).get(target.benchmark)
        v = numeric(ev.metrics.get(target.metric)) if ev is not None else None
        if v is not None:
            out.append(v)
    return out


ScoreCache = dict[tuple[str, str, str], tuple[dict[str, float], bool]]


def _run_scores(
    run_id: str, store: Store, target: Target, cache: ScoreCache | None
) -> tuple[dict[str, float], bool]:
    assert target.benchmark is not None
    key = (run_id, target.benchmark, target.metric)
    if cache is not None and key in cache:
        return cache[key]
    samples = store.evaluation_samples(run_id, target.benchmark)
    ev = latest_evaluations(store, run_id).get(target.benchmark)
    expected = numeric(ev.metrics.get(target.metric)) if ev is not None else None
    try:
        scores, binary = sample_scores(samples, target.metric, expected, benchmark=target.benchmark)
    except ConfigError as e:
        raise ConfigError(f"Run {run_id} on {target.benchmark}: {e}") from None
    got = ({s.sample_id: v for s, v in zip(samples, scores, strict=False)}, binary)
    if scores and len(got[0]) < len(samples):
        from collections import Counter

        dup = next(k for k, c in Counter(x.sample_id for x in samples).items() if c > 1)
        raise ConfigError(
            f"Run {run_id} has {len(samples) - len(got[0])} repeated sample ids on "
            f"{target.benchmark} (first: {dup!r}); a paired test needs each sample once, so "
            "re-evaluate it or use test='welch' on seed groups."
        )
    if cache is not None:
        cache[key] = got
    return got


def paired_scores(
    a: Entry, b: Entry, store: Store, target: Target, cache: ScoreCache | None = None
) -> tuple[list[float], list[float], bool] | None:
    """Per-sample values of two runs matched by sample id (and whether both are 0/1), or None
    when either has no per-sample values. Raises when their sample ids differ. ``cache``
    keeps each run's scores for the next call (the leaderboard tests one leader many times).
    A seed group of one run counts as that run (an experiment evaluated once)."""
    if len(a.runs) != 1 or len(b.runs) != 1 or target.benchmark is None:
        return None
    got = []
    for e in (a, b):
        scores, binary = _run_scores(e.runs[0].id, store, target, cache)
        if not scores:
            return None
        got.append((scores, binary))
    (sa, ba), (sb, bb) = got
    only_a = [k for k in sa if k not in sb]
    only_b = [k for k in sb if k not in sa]
    if only_a or only_b:
        parts = []
        for label, only in ((a.label, only_a), (b.label, only_b)):
            if only:
                few = ", ".join(map(repr, only[:3])) + (", ..." if len(only) > 3 else "")
                parts.append(f"{len(only)} only in {label} ({few})")
        raise ConfigError(
            f"A paired test needs the same samples in both runs, but their {target.benchmark} "
            f"sample ids differ: {'; '.join(parts)}; evaluate both on the same samples or use "
            "test='welch' on seed groups."
        )
    ids = list(sa)
    return [sa[k] for k in ids], [sb[k] for k in ids], ba and bb


def paired_test(
    x: Sequence[float],
    y: Sequence[float],
    binary: bool,
    test: TestChoice,
    *,
    seed: int = 0,
    level: float = 0.95,
    resamples: int = 10_000,
    labels: tuple[str, str] = ("A", "B"),
) -> TestResult:
    """The test ``test`` on per-sample values ``x`` and ``y`` of the same samples (``binary``:
    both are 0/1 correctness). ``"auto"`` picks McNemar for 0/1 correctness, the sign-flip
    permutation test for fewer than :data:`BOOTSTRAP_MIN_N` graded pairs, the paired
    bootstrap from there on, and says why in the result's ``note``."""
    if test == "welch":
        raise ConfigError("Welch's t-test compares seed groups, not paired samples.")
    n = len(x)
    if test == "permutation" or (test == "auto" and not binary and n < BOOTSTRAP_MIN_N):
        result = permutation_test(x, y, resamples=resamples, level=level, seed=seed, labels=labels)
        if test == "auto":
            how = "every sign flip, exactly" if result.exact else f"{resamples:,} random sign flips"
            result = replace(
                result,
                note=f"auto chose the paired permutation test ({how}): the {n} pairs "
                f"have graded scores and n < {BOOTSTRAP_MIN_N}, where the paired "
                "bootstrap rejects too often",
            )
        return result
    boot = paired_bootstrap(x, y, resamples=resamples, level=level, seed=seed, labels=labels)
    if test == "mcnemar" or (test == "auto" and binary):
        mc = mcnemar_exact(x, y, level=level, labels=labels)
        note = (
            f"auto chose the exact McNemar test: both runs have 0/1 correctness on the "
            f"same {n} samples"
            if test == "auto"
            else None
        )
        # McNemar's p with the bootstrap's interval of the difference (same seed, same data).
        return replace(
            mc,
            ci_low=boot.ci_low,
            ci_high=boot.ci_high,
            seed=seed,
            resamples=resamples,
            note=note,
        )
    if test == "auto":
        boot = replace(
            boot,
            note=f"auto chose the paired bootstrap: the {n} pairs have graded scores and "
            f"n >= {BOOTSTRAP_MIN_N}, where its p-values are close to calibrated",
        )
    return boot


def _one(
    a: Entry,
    b: Entry,
    store: Store,
    target: Target,
    test: TestChoice,
    seed: int,
    level: float,
    resamples: int,
    cache: ScoreCache | None = None,
) -> TestResult:
    labels = (a.label, b.label)
    paired = None if test == "welch" else paired_scores(a, b, store, target, cache)
    if test in ("bootstrap", "permutation", "mcnemar") and paired is None:
        who = a if len(a.runs) > 1 else b if len(b.runs) > 1 else None
        reason = (
            f"{who.label} is a seed group of {len(who.runs)} runs"
            if who is not None
            else "per-sample scores are missing"
            if target.benchmark is not None
            else f"{target.metric} is a logged training metric"
        )
        raise ConfigError(
            f"test={test!r} needs per-sample scores of two runs, but {reason}; "
            "use test='welch' for seed groups.",
            parameter="test",
            value=test,
        )
    if paired is not None:
        x, y, binary = paired
        return paired_test(
            x, y, binary, test, seed=seed, level=level, resamples=resamples, labels=labels
        )
    if test == "auto" and len(a.runs) == len(b.runs) == 1 and target.benchmark is not None:
        raise ConfigError(
            f"{a.label} and {b.label} have no per-sample scores on {target.benchmark} for a "
            "paired test, and single runs have too few seeds for Welch; evaluate with "
            "per-sample results or compare seed groups ('group:<key prefix>')."
        )
    va = entry_values(a, store, target)
    vb = entry_values(b, store, target)
    result = welch_t_test(va, vb, level=level, labels=labels)
    if test == "auto":
        why = (
            "a seed group is compared"
            if "group" in (a.kind, b.kind)
            else f"{target.metric} is a logged training metric"
        )
        result = replace(
            result, note=f"auto chose Welch's t-test across seeds: {why}, one value per run"
        )
    return result


def significance(
    refs: Sequence[str | Entry],
    *,
    benchmark: str | None = None,
    metric: str | None = None,
    test: TestChoice = "auto",
    seed: int = 0,
    level: float = 0.95,
    resamples: int = 10_000,
    suite: str | None = None,
    where: Sequence[str] | str | None = None,
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    store_url: str | None = None,
) -> list[TestResult]:
    """Test the first reference against each of the others; one :class:`TestResult` each.

    ``refs`` are runs or seed groups (see :func:`resolve_refs`). ``test="auto"`` uses the exact
    McNemar test (with the paired bootstrap interval) when two runs have 0/1 correctness on the
    same samples; for graded per-sample scores the paired permutation test (exact below 21
    non-zero differences) when there are fewer than 50 pairs and the paired bootstrap from 50
    on; and Welch's t-test across seeds for groups. Each result's ``note`` says which test
    ran and why. A metric's per-sample values come from the field its benchmark declares
    (``BaseBenchmark.metric_fields``). With more than one comparison every result gets a
    Holm-adjusted p-value.
    ``store`` is an open Store, ``store_url`` a store URL, ``root`` a workspace folder.
    ``suite`` and ``where`` narrow the names to a suite's runs where the conditions hold; a
    name that fits several seed groups resolves to the newest one evaluated on ``benchmark``
    (see :func:`resolve_refs`).

    Raises:
        ConfigError: fewer than two references, an unknown test, no common benchmark, sample
            ids that do not match, too few seeds for Welch.
        RunNotFoundError: a reference names nothing.
    """
    if test not in TESTS:
        raise ConfigError(
            f"Unknown test {test!r}; choose one of {', '.join(TESTS)}.",
            parameter="test",
            value=test,
        )
    if len(refs) < 2:
        raise ConfigError(
            f"A significance test needs at least two runs or groups, got {len(refs)}; "
            "name a baseline and what to test against it.",
            parameter="refs",
        )
    with store_scope(root, store, store_url) as db:
        entries = resolve_refs(
            refs, db, scope=Scope.of(suite, where), benchmark=benchmark, metric=metric
        )
        target = choose_target(entries, db, benchmark, metric)
        results = [
            replace(
                _one(entries[0], e, db, target, test, seed, level, resamples),
                metric=target.metric,
                benchmark=target.benchmark,
            )
            for e in entries[1:]
        ]
    if len(results) > 1:
        import math

        # A NaN p (no verdict) takes no part in the correction and gets no adjusted p.
        kept = [i for i, r in enumerate(results) if not math.isnan(r.p_value)]
        adjusted = holm([results[i].p_value for i in kept])
        for i, p in zip(kept, adjusted, strict=True):
            results[i] = replace(results[i], p_adjusted=p)
    return TestResults(results)
