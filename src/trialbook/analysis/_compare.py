"""``compare``: runs or seed groups side by side -- the config keys that differ, and each
benchmark's metrics with the change against the first entry and the winner per metric."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from trialbook.analysis._refs import Entry, latest_evaluations, numeric, resolve_refs
from trialbook.analysis._scope import Scope
from trialbook.analysis._significance import store_scope
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.store import Store

__all__ = ["Comparison", "MetricRow", "compare"]

_MISSING = object()
LOGGED = "logged metrics"


@dataclass(frozen=True)
class MetricRow:
    """One metric across the entries.

    ``values`` are the runs' values or, for groups, the means over seeds (``n`` runs each;
    None where an entry lacks the metric). ``change`` and ``relative`` are against the first
    entry (``relative`` a fraction, None when the first is 0 or missing). ``best`` is the index
    of the winning entry (among those with a value) by the metric's direction (``goal``), None
    when fewer than two have a value or those values are equal.
    """

    metric: str
    goal: str
    values: tuple[float | None, ...]
    n: tuple[int, ...]
    change: tuple[float | None, ...]
    relative: tuple[float | None, ...]
    best: int | None


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`.

    ``config`` holds the differing keys only: ``{key: (value per entry)}`` (``None`` where an
    entry lacks the key; keys that differ within a group, such as its seed, are left out).
    ``tables`` maps each benchmark (and ``"logged metrics"`` for final training metrics) to
    its rows. ``winner`` is per table: the entry best on its primary metric (``accuracy`` or
    its first, among the metrics two or more entries have; the winner is among those with a
    value), with ``margin`` = how much better than the next best. ``primary`` names that metric
    per table.
    """

    entries: tuple[str, ...]
    kinds: tuple[str, ...]
    config: dict[str, tuple[Any, ...]]
    tables: dict[str, list[MetricRow]]
    winner: dict[str, str | None]
    margin: dict[str, float | None]
    primary: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "entries": list(self.entries),
            "kinds": list(self.kinds),
            "config": {k: list(v) for k, v in self.config.items()},
            "tables": {b: [asdict(r) for r in rows] for b, rows in self.tables.items()},
            "winner": dict(self.winner),
            "margin": dict(self.margin),
            "primary": dict(self.primary),
        }


def _entry_params(entry: Entry, store: Store) -> dict[str, Any]:
    per_run = [store.params(r.id) for r in entry.runs]
    first = per_run[0]
    # Within a group only the seed may differ; such keys say nothing about the entry.
    return {k: v for k, v in first.items() if all(p.get(k, _MISSING) == v for p in per_run[1:])}


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


def _row(metric: str, per_entry: Sequence[list[float] | None]) -> MetricRow:
    from trialbook._metrics import metric_goal

    goal = metric_goal(metric)
    values = tuple((sum(v) / len(v)) if v else None for v in per_entry)
    n = tuple(len(v) if v else 0 for v in per_entry)
    base = values[0]
    change = tuple(None if base is None or v is None else v - base for v in values)
    relative = tuple(
        None if c is None or base is None or base == 0 else c / abs(base) for c in change
    )
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
    store: Store | str | None = None,
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
            "e.g. `trialbook compare RUN_A RUN_B`."
        )
    with store_scope(root, store) as db:
        entries = resolve_refs(refs, db, scope=Scope.of(suite, where))
        params = [_entry_params(e, db) for e in entries]
        metrics = [_entry_metrics(e, db) for e in entries]
    keys = sorted({k for p in params for k in p})
    config = {
        k: tuple(p.get(k) for p in params)
        for k in keys
        if len({repr(p.get(k, _MISSING)) for p in params}) > 1
    }
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
    winner: dict[str, str | None] = {}
    margin: dict[str, float | None] = {}
    primary_of: dict[str, str] = {}
    for table, rows in tables.items():
        # The primary metric is one at least two entries have: accuracy, else the first such.
        complete = [r for r in rows if sum(v is not None for v in r.values) >= 2]
        # (a table is kept only when it has one, so ``complete`` is not empty).
        primary = next((r for r in complete if r.metric == "accuracy"), complete[0])
        primary_of[table] = primary.metric
        if primary.best is None:
            winner[table], margin[table] = None, None
            continue
        win = primary.values[primary.best]
        others = [v for i, v in enumerate(primary.values) if i != primary.best and v is not None]
        winner[table] = entries[primary.best].label
        margin[table] = (
            abs(win - (max(others) if primary.goal == "max" else min(others)))
            if win is not None and others
            else None
        )
    return Comparison(
        entries=tuple(e.label for e in entries),
        kinds=tuple(e.kind for e in entries),
        config=config,
        tables=tables,
        winner=winner,
        margin=margin,
        primary=primary_of,
    )
