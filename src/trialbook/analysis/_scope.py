"""Which runs a command looks at: a suite and ``where`` conditions (one owner for ``ls``,
``leaderboard``, ``compare``, ``significance``, ``report`` and ``analyze``; the grammar itself is
:func:`trialbook.store.parse_condition`'s), and the check that a name a user typed exists in
some run of the workspace.

A filter whose key, experiment or suite exists nowhere is a typo, not an empty answer:
:func:`check_names` turns it into one sentence with a did-you-mean, while a filter over names
that exist but match nothing stays an empty result ("No runs match.").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from trialbook.config._plan import suite_of, suite_tag
from trialbook.config._suggest import closest
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.store import MetricCondition, ParamCondition, RunQuery, RunRecord, Store

__all__ = ["Scope", "check_names", "known_suites", "suggest_key"]


@dataclass(frozen=True)
class Scope:
    """The runs a command considers: those of one suite (``suite``, the name a suite file
    gives its runs, see :func:`trialbook.config._plan.suite_name`) where every ``--where``
    condition holds. An empty scope is the whole workspace.

    Build it with :meth:`of`, which parses the conditions (``ConfigError`` on bad grammar).
    """

    suite: str | None = None
    where: tuple[str, ...] = ()
    conditions: tuple[ParamCondition | MetricCondition, ...] = field(default=(), compare=False)

    @classmethod
    def of(cls, suite: str | None = None, where: Iterable[str] | str | None = None) -> Scope:
        """A scope from ``--suite`` and ``--where`` texts (one text or several)."""
        from trialbook.store import parse_condition

        texts = (where,) if isinstance(where, str) else tuple(where or ())
        if suite is not None and not suite.strip():
            raise ConfigError(
                "suite needs a suite name, e.g. suite=demo.", parameter="suite", value=suite
            )
        return cls(suite, texts, tuple(parse_condition(t) for t in texts))

    @property
    def empty(self) -> bool:
        """True when the scope is the whole workspace."""
        return self.suite is None and not self.where

    def query(self, base: RunQuery | None = None, **fields: Any) -> RunQuery:
        """``base`` (or a new RunQuery with ``fields``) narrowed to the scope."""
        from trialbook.store import MetricCondition, ParamCondition, RunQuery

        q = replace(base, **fields) if base is not None else RunQuery(**fields)
        tags = (*q.tags, suite_tag(self.suite)) if self.suite is not None else q.tags
        return replace(
            q,
            tags=tags,
            params=(*q.params, *(c for c in self.conditions if isinstance(c, ParamCondition))),
            metrics=(*q.metrics, *(c for c in self.conditions if isinstance(c, MetricCondition))),
        )

    def describe(self) -> str:
        """``suite demo, where params.lr<0.1`` (empty for the whole workspace)."""
        parts = [f"suite {self.suite}"] if self.suite is not None else []
        parts += [f"where {w}" for w in self.where]
        return ", ".join(parts)


# --------------------------------------------------------------------------- name checks
def suggest_key(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate a mistyped key most likely means (see :func:`closest`), also when the
    word abbreviates the last part of a dotted key (``lr`` -> ``params.training.learning_rate``)."""
    pool = sorted(set(candidates))
    match = closest(word, pool)
    if match is not None:
        return match
    leaves: dict[str, list[str]] = {}
    for c in pool:
        leaves.setdefault(c.rpartition(".")[2], []).append(c)
    leaf = closest(word.rpartition(".")[2], [k for k, v in leaves.items() if len(v) == 1])
    return leaves[leaf][0] if leaf is not None else None


def _about(what: str) -> dict[str, Any]:
    """The ``parameter`` and ``value`` fields of an error about ``what`` (``where='x<1'``,
    ``sort=...``): the text before ``=`` names the parameter."""
    name, _, value = what.partition("=")
    if value == "...":
        return {"parameter": name, "value": None}
    quoted = len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""
    return {"parameter": name, "value": value[1:-1] if quoted else value}


def _hint(word: str, candidates: Iterable[str], fallback: str) -> str:
    match = suggest_key(word, candidates)
    return f"did you mean {match!r}?" if match is not None else fallback


def known_suites(runs: Iterable[RunRecord]) -> list[str]:
    """The suites the runs were planned from (their ``suite:`` tags), sorted."""
    return sorted({s for r in runs for s in suite_of(r.tags)})


def _param_keys(store: Store, ids: Sequence[str]) -> set[str]:
    return {k for per in store.bulk_params(ids).values() for k in per}


def _metric_keys(store: Store, ids: Sequence[str], keys: Sequence[str] | None = None) -> set[str]:
    return {k for per in store.metric_summaries(ids, keys).values() for k in per}


def check_names(
    store: Store,
    *,
    experiment: str | None = None,
    scope: Scope | None = None,
    metrics: Sequence[tuple[str, str]] = (),
    also: Iterable[str] = (),
) -> None:
    """Raise a did-you-mean for a name that exists in no run of the workspace.

    Checks ``experiment``, the scope's suite and the keys of its ``--where`` conditions, and
    ``metrics`` (``(key, what)`` pairs, ``what`` naming the parameter as ``name=...``, e.g.
    ``"sort=..."``; the error's ``parameter`` is that name);
    ``also`` are more names a mistyped metric may have meant (``ls --sort``'s run columns).
    Names that exist are accepted even when the filters together match nothing.

    Raises:
        ConfigError: one sentence naming the unknown name and the closest known one.
    """
    from trialbook.store import MetricCondition

    if experiment is not None:
        known = [e.name for e in store.list_experiments()]
        if experiment not in known:
            hint = _hint(experiment, known, f"known: {', '.join(known[:8]) or 'none yet'}.")
            raise ConfigError(
                f"No experiment {experiment!r}; {hint}",
                parameter="experiment",
                value=experiment,
            )
    scope = scope or Scope()
    if not scope.empty and store.list_runs(scope.query(limit=1)):
        # Some run is in the suite and meets every condition, so every name in it exists:
        # the common case costs one indexed query, not a read of every key.
        scope = Scope()
    needs_runs = scope.suite is not None or scope.conditions or metrics
    if not needs_runs:
        return
    if scope.suite is not None and store.list_runs(tags=(suite_tag(scope.suite),), limit=1):
        runs: list[RunRecord] | None = None
    else:
        runs = store.list_runs()
    if scope.suite is not None and runs is not None:
        suites = known_suites(runs)
        if scope.suite not in suites:
            fallback = (
                f"the suites here: {', '.join(suites)}."
                if suites
                else "no run here was planned from a suite file (`trialbook run suite.yaml`)."
            )
            raise ConfigError(
                f"No run belongs to the suite {scope.suite!r}; "
                f"{_hint(scope.suite, suites, fallback)}",
                parameter="suite",
                value=scope.suite,
            )
    wanted = [(c.key, f"where={w!r}") for c, w in zip(scope.conditions, scope.where, strict=True)]
    if not wanted and not metrics:
        return
    ids = [r.id for r in (runs if runs is not None else store.list_runs())]
    metric_names = [
        *(
            (c.key, w)
            for c, (_, w) in zip(scope.conditions, wanted, strict=True)
            if isinstance(c, MetricCondition)
        ),
        *metrics,
    ]
    param_names = [
        (c.key, w)
        for c, (_, w) in zip(scope.conditions, wanted, strict=True)
        if not isinstance(c, MetricCondition)
    ]
    have_metrics = _metric_keys(store, ids, [k for k, _ in metric_names]) if metric_names else set()
    missing_metric = next(((k, w) for k, w in metric_names if k not in have_metrics), None)
    missing_param: tuple[str, str] | None = None
    params: set[str] = set()
    if param_names:
        params = _param_keys(store, ids)
        missing_param = next(((k, w) for k, w in param_names if k not in params), None)
    if missing_param is not None:
        key, where = missing_param
        candidates = {f"params.{p}" for p in params}
        hint = _hint(f"params.{key}", candidates, "see a run's params with `trialbook show RUN`.")
        raise ConfigError(
            f"No run in this workspace has the param {key!r} ({where}); {hint}", **_about(where)
        )
    if missing_metric is not None:
        key, where = missing_metric
        every = _metric_keys(store, ids)
        if not params:
            params = _param_keys(store, ids)
        candidates = {*every, *(f"params.{p}" for p in params)}
        candidates |= set(also)
        fallback = "see the metrics with `trialbook ls` or `trialbook show RUN`."
        raise ConfigError(
            f"No run in this workspace logged the metric {key!r} ({where}); "
            + _hint(key, candidates, fallback),
            **_about(where),
        )
