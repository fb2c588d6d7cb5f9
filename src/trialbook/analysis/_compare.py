"""``compare``: runs or seed groups side by side -- the config keys that differ, each
benchmark's metrics with the change against the first entry, and per table a winner only when
a test says the difference is not noise.

It also owns the relative change (:func:`relative_change`, :func:`format_relative`) that every
change column (this table, the HTML report's comparison) shows."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from trialbook.analysis._refs import Entry, resolve_refs
from trialbook.analysis._samples import latest_evaluations, numeric
from trialbook.analysis._scope import Scope
from trialbook.analysis._significance import ScoreCache, Target, _one, store_scope
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.analysis._stats import TestResult
    from trialbook.store import Store

__all__ = [
    "Comparison",
    "IntervalValue",
    "MetricIntervals",
    "MetricRow",
    "Verdict",
    "compare",
    "differing_config",
    "format_relative",
    "metric_intervals",
    "relative_change",
]

_MISSING = object()
LOGGED = "logged metrics"

#: The largest ratio value / baseline a relative change is given for (at most +900%).
MAX_RATIO = 10.0
#: The confidence level of compare's tests (a winner needs p < 1 - LEVEL, Holm-adjusted).
LEVEL = 0.95


def relative_change(base: float | None, value: float | None) -> float | None:
    """``(value - base) / base`` as a fraction, or None where a percentage would mislead.

    Defined only when the baseline is positive and the value lies between 0 and
    :data:`MAX_RATIO` times the baseline (so between -100% and +900%): a baseline at or below
    zero (a log-likelihood, a centred score) has no meaningful ratio, a change of sign is not
    a percentage, and a baseline near zero compared with the value (a loss of 0.0001 against
    0.02 would read "+19900%") turns noise into huge numbers. Where it is None the absolute
    difference is the one to read.

    >>> relative_change(0.5, 0.6)
    0.19999999999999996
    >>> relative_change(0.0001, 0.02) is None, relative_change(-2.0, -1.0) is None
    (True, True)
    """
    if base is None or value is None or not (math.isfinite(base) and math.isfinite(value)):
        return None
    if base <= 0 or value < 0 or value > MAX_RATIO * base:
        return None
    return (value - base) / base


def format_relative(relative: float | None) -> str:
    """A :func:`relative_change` as text: ``+12.6%``, or ``n/a`` where it is None."""
    if relative is None or not math.isfinite(relative):
        return "n/a"
    return f"{relative * 100:+.1f}%"


@dataclass(frozen=True)
class MetricRow:
    """One metric across the entries.

    ``values`` are the runs' values or, for groups, the means over seeds (``n`` runs each;
    None where an entry lacks the metric). ``change`` and ``relative`` are against the first
    entry (``relative`` a fraction from :func:`relative_change`: None unless the first is
    positive and the value within 0 and 10 times it). ``best`` is the index of the best value
    (among the entries with one) by the metric's direction (``goal``), None when fewer than
    two have a value or those values are equal; it says who is ahead, not that the difference
    is real (see :class:`Verdict`).
    """

    metric: str
    goal: str
    values: tuple[float | None, ...]
    n: tuple[int, ...]
    change: tuple[float | None, ...]
    relative: tuple[float | None, ...]
    best: int | None


@dataclass(frozen=True)
class Verdict:
    """Whether a table's primary metric has a clear winner.

    ``ahead`` is the entry with the best value (None when fewer than two entries have one or
    the values are equal) and ``margin`` how far it is ahead of the next best. ``winner`` is
    ``ahead`` only when it is significantly better than every other entry with a value: the
    test :func:`trialbook.significance` would run (``test="auto"``: Welch's t-test across
    seeds for groups, a paired test on per-sample scores for runs), at 95% and Holm-adjusted
    when there are several others. ``test`` names it (empty when no test applies, e.g. one
    run each without per-sample scores) and ``p_value`` is the largest (adjusted) p-value of
    those tests. ``n`` is each entry's number of runs with the metric (seeds, for groups).
    ``text`` is the sentence the CLI prints: ``winner: ...`` or ``no clear difference
    (n=3): ...`` (``n=3`` runs per entry; ``n=500 samples`` for a paired test of two runs).
    """

    metric: str
    ahead: str | None
    margin: float | None
    winner: str | None
    test: str
    p_value: float | None
    n: tuple[int, ...]
    text: str


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`.

    ``config`` holds the differing keys only: ``{key: (value per entry)}`` (``None`` where an
    entry lacks the key; keys that differ within a group, such as its seed, are left out).
    ``tables`` maps each benchmark (and ``"logged metrics"`` for final training metrics) to
    its rows. ``verdicts`` holds one :class:`Verdict` per table, on its primary metric
    (``accuracy`` or its first, among the metrics two or more entries have); ``winner``,
    ``margin`` and ``primary`` are its fields per table (``winner`` None unless the
    difference is significant).
    """

    entries: tuple[str, ...]
    kinds: tuple[str, ...]
    config: dict[str, tuple[Any, ...]]
    tables: dict[str, list[MetricRow]]
    verdicts: dict[str, Verdict] = field(default_factory=dict)

    @property
    def winner(self) -> dict[str, str | None]:
        """``{table: winner}``: the entry significantly best on the primary metric, or None."""
        return {t: v.winner for t, v in self.verdicts.items()}

    @property
    def margin(self) -> dict[str, float | None]:
        """``{table: how far the entry ahead is ahead of the next best}``."""
        return {t: v.margin for t, v in self.verdicts.items()}

    @property
    def primary(self) -> dict[str, str]:
        """``{table: its primary metric}``."""
        return {t: v.metric for t, v in self.verdicts.items()}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "entries": list(self.entries),
            "kinds": list(self.kinds),
            "config": {k: list(v) for k, v in self.config.items()},
            "tables": {b: [asdict(r) for r in rows] for b, rows in self.tables.items()},
            "winner": self.winner,
            "margin": self.margin,
            "primary": self.primary,
            "verdicts": {t: {**asdict(v), "n": list(v.n)} for t, v in self.verdicts.items()},
        }


def _entry_params(entry: Entry, store: Store) -> dict[str, Any]:
    per_run = [store.params(r.id) for r in entry.runs]
    first = per_run[0]
    # Within a group only the seed may differ; such keys say nothing about the entry.
    return {k: v for k, v in first.items() if all(p.get(k, _MISSING) == v for p in per_run[1:])}


def _differing(params: Sequence[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    keys = sorted({k for p in params for k in p})
    return {
        k: tuple(p.get(k) for p in params)
        for k in keys
        if len({repr(p.get(k, _MISSING)) for p in params}) > 1
    }


def differing_config(entries: Sequence[Entry], store: Store) -> dict[str, tuple[Any, ...]]:
    """The flattened config keys whose value differs among ``entries`` (runs or seed groups),
    as :attr:`Comparison.config` holds them: ``{key: (value per entry)}``, None where an entry
    lacks the key; keys that differ within a group (its seed) are left out."""
    return _differing([_entry_params(e, store) for e in entries])


def _entry_metrics(entry: Entry, store: Store) -> dict[str, dict[str, list[float]]]:
    """``{table: {metric: [value per run]}}``."""
    out: dict[str, dict[str, list[float]]] = {}
    for r in entry.runs:
        for bench, ev in latest_evaluations(store, r.id).items():
            for k, v in ev.metrics.items():
                x = numeric(v)
                if x is not None:
                    out.setdefault(bench, {}).setdefault(k, []).append(x)
    sums = store.metric_summaries(entry.run_ids)
    for per in sums.values():
        for k, s in per.items():
            # CPU and memory samples describe the machine, not the model.
            if not k.startswith("system/"):
                out.setdefault(LOGGED, {}).setdefault(k, []).append(s.last)
    return out


@dataclass(frozen=True)
class IntervalValue:
    """One entry's value of a metric: the ``mean`` over its ``n`` runs (the value itself for
    one run) and the Student-t interval of that mean (None below two runs)."""

    mean: float
    ci_low: float | None
    ci_high: float | None
    n: int


@dataclass(frozen=True)
class MetricIntervals:
    """One metric across entries (None where an entry lacks it). ``metric`` is the flat
    column name: ``eval.<benchmark>.<metric>`` for an evaluation's metric (the latest
    evaluation per benchmark), ``metrics.<key>`` for a logged metric's last value."""

    metric: str
    values: tuple[IntervalValue | None, ...]


def metric_intervals(
    entries: Sequence[Entry], store: Store, *, level: float = 0.95
) -> list[MetricIntervals]:
    """Every metric of ``entries`` side by side with its mean and interval per entry: the
    evaluation metrics first (by benchmark), then the logged metrics (system metrics are left
    out: they describe the machine). Each metric appears once, in the order first met."""
    from trialbook.analysis._intervals import check_level, t_interval

    level = check_level(level)
    per_entry = [_entry_metrics(e, store) for e in entries]
    tables = sorted({t for m in per_entry for t in m if t != LOGGED})
    if any(LOGGED in m for m in per_entry):
        tables.append(LOGGED)
    out: list[MetricIntervals] = []
    for table in tables:
        prefix = "metrics." if table == LOGGED else f"eval.{table}."
        keys = list(dict.fromkeys(k for m in per_entry for k in m.get(table, {})))
        for key in keys:
            values: list[IntervalValue | None] = []
            for m in per_entry:
                raw = m.get(table, {}).get(key)
                finite = [v for v in raw or [] if math.isfinite(v)]
                if not raw:
                    values.append(None)
                    continue
                mean = sum(finite) / len(finite) if finite else math.nan
                low = high = None
                if len(finite) >= 2:
                    low, high = t_interval(finite, level)
                values.append(IntervalValue(mean, low, high, len(raw)))
            out.append(MetricIntervals(prefix + key, tuple(values)))
    return out


def _row(metric: str, per_entry: Sequence[list[float] | None]) -> MetricRow:
    from trialbook._metrics import metric_goal

    goal = metric_goal(metric)
    values = tuple((sum(v) / len(v)) if v else None for v in per_entry)
    n = tuple(len(v) if v else 0 for v in per_entry)
    base = values[0]
    change = tuple(None if base is None or v is None else v - base for v in values)
    relative = tuple(relative_change(base, v) for v in values)
    have = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
    best = None
    # A winner only among the entries that have the metric: "-" beats or ties nothing.
    if len(have) >= 2 and len({v for v, _ in have}) > 1:
        pick = max if goal == "max" else min
        best = pick(have, key=lambda t: t[0])[1]
    return MetricRow(metric, goal, values, n, change, relative, best)


def compare(
    refs: Sequence[str | Entry],
    *,
    suite: str | None = None,
    where: Sequence[str] | str | None = None,
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    store_url: str | None = None,
) -> Comparison:
    """Compare runs or seed groups (see :func:`trialbook.analysis.resolve_refs`; ``suite``
    and ``where`` narrow the names to a suite's runs where the conditions hold).

    Raises:
        ConfigError: fewer than two references, or nothing measured in common.
        RunNotFoundError: a reference names nothing.
    """
    if len(refs) < 2:
        raise ConfigError(
            f"Compare needs at least two runs or groups, got {len(refs)}; "
            "name a baseline and what to compare with it.",
            parameter="refs",
        )
    with store_scope(root, store, store_url) as db:
        entries = resolve_refs(refs, db, scope=Scope.of(suite, where))
        params = [_entry_params(e, db) for e in entries]
        metrics = [_entry_metrics(e, db) for e in entries]
        tables = _tables(entries, metrics)
        cache: ScoreCache = {}
        verdicts = {t: _verdict(t, rows, entries, db, cache) for t, rows in tables.items()}
    config = _differing(params)
    return Comparison(
        entries=tuple(e.label for e in entries),
        kinds=tuple(e.kind for e in entries),
        config=config,
        tables=tables,
        verdicts=verdicts,
    )


def _tables(
    entries: Sequence[Entry], metrics: Sequence[dict[str, dict[str, list[float]]]]
) -> dict[str, list[MetricRow]]:
    names = [t for t in sorted({t for m in metrics for t in m}) if t != LOGGED]
    if any(LOGGED in m for m in metrics):
        names.append(LOGGED)
    tables: dict[str, list[MetricRow]] = {}
    for table in names:
        shared = [m.get(table, {}) for m in metrics]
        keys_t = list(dict.fromkeys(k for s in shared for k in s))
        if not any(sum(1 for s in shared if k in s) >= 2 for k in keys_t):
            continue  # no metric of the table is in two entries: it compares nothing
        tables[table] = [_row(k, [s.get(k) for s in shared]) for k in keys_t]
    if not tables:
        has = "; ".join(
            f"{e.label}: {', '.join(t for t in sorted(m) if t != LOGGED) or 'none'}"
            for e, m in zip(entries, metrics, strict=True)
        )
        raise ConfigError(
            f"The entries have no benchmark in common ({has}) and no logged metric in common; "
            "evaluate them on the same benchmark first."
        )
    return tables


def _n_text(n: Sequence[int]) -> str:
    """``n=3`` when every entry has 3 runs, else ``n=3 and 2`` / ``n=3, 3 and 2``."""
    if len(set(n)) == 1:
        return f"n={n[0]}"
    parts = [str(x) for x in n]
    return f"n={', '.join(parts[:-1])} and {parts[-1]}"


def _verdict(
    table: str, rows: Sequence[MetricRow], entries: Sequence[Entry], db: Store, cache: ScoreCache
) -> Verdict:
    from trialbook._format import fmt_number
    from trialbook.analysis._stats import _TEST_LABELS, _fmt_p, holm

    # The primary metric is one at least two entries have: accuracy, else the first such
    # (a table is kept only when it has one).
    complete = [r for r in rows if sum(v is not None for v in r.values) >= 2]
    row = next((r for r in complete if r.metric == "accuracy"), complete[0])
    have = [i for i, v in enumerate(row.values) if v is not None]
    n = tuple(row.n[i] for i in have)
    lacking = [entries[i].label for i, v in enumerate(row.values) if v is None]
    among = f"; {', '.join(lacking)} not measured" if lacking else ""
    unclear = f"no clear difference ({_n_text(n)})"
    if row.best is None:
        text = f"{unclear}: the values of {row.metric} are equal{among}"
        return Verdict(row.metric, None, None, None, "", None, n, text)
    values = [v for v in row.values if v is not None]
    best = row.values[row.best]
    assert best is not None  # row.best indexes a value
    margin = abs(best - (sorted(values, reverse=row.goal == "max")[1]))
    ahead = entries[row.best].label
    lead = f"{ahead} is ahead on {row.metric} by {fmt_number(margin)}"
    target = Target(None if table == LOGGED else table, row.metric)
    results: list[TestResult] = []
    try:
        for i in have:
            if i != row.best:
                results.append(
                    _one(entries[row.best], entries[i], db, target, "auto", 0, LEVEL, 10_000, cache)
                )
    except ConfigError:
        text = (
            f"{unclear}: {lead}, but no test applies (a test needs seed groups of 2 or more "
            f"runs, or runs with per-sample scores on the same samples){among}"
        )
        return Verdict(row.metric, ahead, margin, None, "", None, n, text)
    ps = holm([r.p_value for r in results]) if len(results) > 1 else [results[0].p_value]
    # The largest adjusted p decides; a NaN one (no spread at all) decides nothing.
    p = math.nan if any(math.isnan(x) for x in ps) else max(ps)
    test = results[0].test
    # Paired tests count samples (the same in every pair); Welch counts runs per entry.
    n_label = f"n={results[0].n:,} samples" if results[0].n_b is None else _n_text(n)
    unclear = f"no clear difference ({n_label})"
    # A winner needs every test significant and each interval of (other - ahead) on the
    # losing side of 0 (a p-value and a resampled interval can disagree).
    beyond = all((r.ci_high < 0) if row.goal == "max" else (r.ci_low > 0) for r in results)
    held = f"{_TEST_LABELS.get(test, test)} {_fmt_p(p)}" + (" (Holm)" if len(ps) > 1 else "")
    if p < 1 - LEVEL and beyond:
        text = (
            f"winner: {ahead} ({row.metric}, by {fmt_number(margin)} over the next best; "
            f"{held}, {n_label}{among})"
        )
        return Verdict(row.metric, ahead, margin, ahead, test, p, n, text)
    text = f"{unclear}: {lead}, within the noise ({held}){among}"
    return Verdict(row.metric, ahead, margin, None, test, p, n, text)
