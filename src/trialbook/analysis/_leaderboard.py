"""``leaderboard``: runs or seed groups ranked by one metric, with the entries that are not
significantly different from the leader marked ``tied``.

Only entries that a test can use are ranked: a seed group needs at least two runs (Welch's
t-test across seeds), a run needs per-sample scores (the paired test of
:func:`trialbook.analysis.significance`: McNemar for 0/1 correctness, else the paired
bootstrap). The others -- a group of one run, a run without per-sample scores -- come after the
ranked rows, unranked (``rank`` <NA>), with ``note`` saying why (``one run``, ``no per-sample
scores``), so an untestable entry with the best value never switches off the tests of the
rest. When no entry is testable the board is a plain ranking by value.

The tie rule: the leader is the first ranked row; each of the first ``tie_tests`` ranked rows
after it is tested against it, and the p-values are corrected together with Holm. ``status``
says what came of it:

* ``leader`` -- the first ranked row (``tied`` True: it is tied with itself);
* ``tied`` -- its adjusted p-value is at least ``1 - level`` (``tied`` True);
* ``behind`` -- significantly worse than the leader (``tied`` False);
* ``untested`` -- not tested (``tied`` None; ``note`` says why): shown apart as untestable,
  beyond ``tie_tests``, or no test applies to it and the leader (other sample ids); a ranked
  untested entry whose value equals the leader's is ``tied``.

The frame's ``attrs`` name what is ranked: ``benchmark`` (None for a logged metric),
``metric``, ``goal`` (``max`` or ``min``) and ``by``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from trialbook.analysis._groups import left_out_note, one_run_per_seed
from trialbook.analysis._intervals import t_half_width
from trialbook.analysis._refs import Entry
from trialbook.analysis._samples import bulk_latest_evaluations, choose_metric, numeric
from trialbook.analysis._scope import Scope, check_names
from trialbook.analysis._significance import (
    ScoreCache,
    Target,
    _one,
    _run_scores,
    store_scope,
)
from trialbook.analysis._stats import TestResult, holm, welch_t_test
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from trialbook.store import RunRecord, Store

__all__ = ["leaderboard"]

COLUMNS = [
    "rank",
    "entry",
    "kind",
    "id",
    "experiment",
    "value",
    "n",
    "std",
    "ci_low",
    "ci_high",
    "test",
    "p_value",
    "p_adjusted",
    "tied",
    "status",
    "note",
]


def _target(
    evals: dict[str, dict[str, Mapping[str, Any]]],
    store: Store,
    run_ids: Sequence[str],
    benchmark: str | None,
    metric: str | None,
) -> tuple[Target, dict[str, float]]:
    benches = sorted({b for per in evals.values() for b in per})
    if benchmark is None and metric is not None:
        sums = store.metric_summaries(run_ids, [metric])
        logged = {rid: s[metric].last for rid, s in sums.items() if metric in s}
        if logged:
            return Target(None, metric), logged
        with_metric = sorted(
            {b for per in evals.values() for b, m in per.items() if numeric(m.get(metric))}
        )
        if len(with_metric) > 1:
            raise ConfigError(
                f"{metric!r} is a metric of {len(with_metric)} benchmarks "
                f"({', '.join(with_metric)}); choose one with benchmark=NAME.",
                parameter="benchmark",
            )
        if not with_metric:
            from trialbook.config._suggest import closest

            known = {k for per in store.metric_summaries(run_ids).values() for k in per}
            known |= {k for per in evals.values() for m in per.values() for k in m}
            hint = closest(metric, known)
            guess = f"did you mean {hint!r}? " if hint else ""
            raise ConfigError(
                f"No run logged {metric!r} or has it in an evaluation; {guess}a run's metric "
                "names are its metric_summaries() and evaluations() keys.",
                parameter="metric",
                value=metric,
            )
        benchmark = with_metric[0]
    if benchmark is None:
        if len(benches) != 1:
            what = f"runs are evaluated on {', '.join(benches)}" if benches else "no evaluations"
            raise ConfigError(
                f"Choose what to rank by: {what}; pass benchmark=NAME and/or metric=NAME "
                "(a logged metric such as loss).",
                parameter="benchmark",
            )
        benchmark = benches[0]
    if benchmark not in benches:
        import difflib

        close = difflib.get_close_matches(benchmark, benches, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(benches) or 'none'}."
        raise ConfigError(f"No run is evaluated on {benchmark!r}; {hint}")
    metrics = sorted(
        {k for per in evals.values() for k, v in per.get(benchmark, {}).items() if numeric(v)}
    )
    metric = choose_metric(benchmark, metrics, metric)
    values: dict[str, float] = {}
    for rid, per in evals.items():
        v = numeric(per.get(benchmark, {}).get(metric))
        if v is not None and math.isfinite(v):
            values[rid] = v
    return Target(benchmark, metric), values


def leaderboard(
    *,
    benchmark: str | None = None,
    metric: str | None = None,
    top: int | None = None,
    by: Literal["run", "group"] = "run",
    experiment: str | None = None,
    level: float = 0.95,
    seed: int = 0,
    resamples: int = 10_000,
    tie_tests: int = 20,
    suite: str | None = None,
    where: Sequence[str] | str | None = None,
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    store_url: str | None = None,
) -> pd.DataFrame:
    """Completed runs (``by="run"``) or seed groups (``by="group"``) ranked by a metric.

    The metric is a benchmark's (``benchmark``; its ``accuracy``, or first metric, unless
    ``metric`` says) or a logged training metric (``metric`` alone, its last value). Its
    direction comes from :func:`trialbook._metrics.metric_goal` (``loss`` ranks ascending).
    Groups show the mean over seeds with ``n``, ``std`` and a t-interval. See the module
    docstring for the ``tied`` and ``status`` rule and the ``attrs`` naming what is ranked.
    Columns: ``rank, entry, kind, id, experiment, value, n, std, ci_low, ci_high, test,
    p_value, p_adjusted, tied, status, note``; ``rank`` is a nullable integer, <NA> for the
    untestable rows shown after the ranked ones. ``top`` keeps the first ``top`` ranked rows
    and the first ``top`` untestable ones.

    ``suite`` and ``where`` (the ``ls --where`` grammar) rank only the runs of that suite
    where the conditions hold; an experiment, suite or key that no run has is a ConfigError
    with a did-you-mean. A group counts one run per seed, the newest completed
    (:func:`~trialbook.analysis._groups.one_run_per_seed`); ``attrs["left_out"]`` lists the
    ids of the older runs of a seed it left out and ``attrs["note"]`` says so in a sentence.
    """
    import numpy as np
    import pandas as pd

    from trialbook._metrics import metric_goal

    if by not in ("run", "group"):
        raise ConfigError(f"by={by!r} must be 'run' or 'group'.", parameter="by", value=by)
    if top is not None and top < 1:
        raise ConfigError(f"top={top} must be at least 1.", parameter="top", value=top)
    with store_scope(root, store, store_url) as db:
        scope = Scope.of(suite, where)
        check_names(db, experiment=experiment, scope=scope)
        completed = scope.query(experiment=experiment, statuses=("completed",))
        by_id: dict[str, RunRecord] = {}
        target: Target | None = None
        left_out: list[RunRecord] = []
        kept_runs: list[RunRecord] = []
        if benchmark is not None and scope.empty:
            # One query for every run's latest result on the benchmark; run records are read
            # only for the rows shown (by run) or for their group keys (by group).
            latest = db.latest_evaluations(benchmark, experiment=experiment)
            if latest:
                evals = {rid: {benchmark: ev.metrics} for rid, ev in latest.items()}
                target, values = _target(evals, db, list(evals), benchmark, metric)
        if target is None:
            by_id = {r.id: r for r in db.list_runs(completed)}
            evals = {
                rid: {bench: ev.metrics for bench, ev in per.items()}
                for rid, per in bulk_latest_evaluations(db, list(by_id)).items()
            }
            target, values = _target(evals, db, list(by_id), benchmark, metric)
        descending = metric_goal(target.metric) == "max"
        if by == "run":
            frame = pd.DataFrame(
                {"id": list(values), "value": np.fromiter(values.values(), float, len(values))}
            )
            frame = frame.sort_values(
                ["value", "id"], ascending=[not descending, True], kind="stable"
            ).reset_index(drop=True)
            # Which rows are shown depends on which can be tested, so every row gets its record.
            wanted = list(frame["id"])
            if not by_id and len(wanted) <= 200:
                by_id = {rid: db.get_run(rid) for rid in wanted}
            elif not by_id:
                by_id = {r.id: r for r in db.list_runs(completed)}
            frame["entry"] = [by_id[rid].name for rid in wanted]
            frame["kind"] = "run"
            frame["experiment"] = [by_id[rid].experiment for rid in wanted]
            frame["n"] = 1
            frame["std"] = np.nan
            frame["ci_low"] = np.nan
            frame["ci_high"] = np.nan
            rows = [(rid, by_id[rid], values[rid]) for rid in wanted]
        else:
            if not by_id:
                by_id = {r.id: r for r in db.list_runs(completed)}
            # One run per seed, the newest completed: a reproduction is not another seed.
            kept, left = one_run_per_seed(list(by_id.values()))
            kept_runs = kept
            counted = {r.id for r in kept}
            rows = [(rid, by_id[rid], v) for rid, v in values.items() if rid in counted]
            ranked = {r.group_key for _, r, _ in rows}
            left_out = [r for r in left if r.group_key in ranked]
            raw = pd.DataFrame(
                {
                    "id": [r.group_key for _, r, _ in rows],
                    "entry": [r.name for _, r, _ in rows],
                    "experiment": [r.experiment for _, r, _ in rows],
                    "value": [v for _, _, v in rows],
                }
            )
            g = raw.groupby("id", sort=False)
            frame = g.agg(
                entry=("entry", "first"),
                experiment=("experiment", "first"),
                n=("value", "size"),
                std=("value", "std"),
                value=("value", "mean"),
            ).reset_index()
            frame["kind"] = "group"
            half = t_half_width(frame["std"].to_numpy(), frame["n"].to_numpy(), level)
            frame["ci_low"] = frame["value"] - half
            frame["ci_high"] = frame["value"] + half
            frame = frame.sort_values(
                ["value", "entry", "id"], ascending=[not descending, True, True], kind="stable"
            ).reset_index(drop=True)
        members: dict[str, list[RunRecord]] = {}
        for rid, r, _ in rows:
            members.setdefault(rid if by == "run" else r.group_key, []).append(r)
        frame = _rank_and_test(
            frame,
            db,
            target,
            by,
            members,
            values,
            descending,
            top,
            tie_tests,
            level,
            seed,
            resamples,
        )
    result: pd.DataFrame = frame[COLUMNS].copy()
    result.attrs = {
        "benchmark": target.benchmark,
        "metric": target.metric,
        "goal": "max" if descending else "min",
        "by": by,
        "left_out": [r.id for r in left_out],
        "note": left_out_note(left_out, kept=kept_runs),
    }
    return result


#: By run, how many rows (best first) are read for per-sample scores to find the testable ones.
CHECK_LIMIT = 200


def _entry(frame: pd.DataFrame, i: int, by: str, runs: dict[str, list[RunRecord]]) -> Entry:
    key = str(frame.at[i, "id"])
    label = str(frame.at[i, "entry"])
    members = tuple(runs[key])
    return Entry(label, "run" if by == "run" else "group", members, members[0].group_key)


def _untestable(
    frame: pd.DataFrame, db: Store, target: Target, by: str, cache: ScoreCache, need: int
) -> dict[int, str]:
    """``{row: why}`` for the rows no test can use against any other entry: a group of one
    run, or (by run) a run without usable per-sample scores. By run, the rows are read best
    first only until ``need`` testable ones are found (at most :data:`CHECK_LIMIT` rows): the
    rows after them are neither tested nor shown apart."""
    out: dict[int, str] = {}
    if by == "group":
        for i, n in enumerate(frame["n"]):
            if int(n) < 2:
                out[i] = "one run"
        return out
    if target.benchmark is None:  # a logged metric has one value per run, no samples
        return dict.fromkeys(range(len(frame)), "one value per run")
    found = 0
    for i in range(min(len(frame), CHECK_LIMIT)):
        if found >= need:
            break
        try:
            scores, _ = _run_scores(str(frame.at[i, "id"]), db, target, cache)
        except ConfigError:
            out[i] = "per-sample scores unusable"
            continue
        if scores:
            found += 1
        else:
            out[i] = "no per-sample scores"
    return out


def _rank_and_test(
    frame: pd.DataFrame,
    db: Store,
    target: Target,
    by: str,
    runs: dict[str, list[RunRecord]],
    run_values: dict[str, float],
    descending: bool,
    top: int | None,
    tie_tests: int,
    level: float,
    seed: int,
    resamples: int,
) -> pd.DataFrame:
    """Rank the testable rows, test the first ``tie_tests`` after the leader against it, and
    put the untestable rows after them, unranked (see the module docstring)."""
    import pandas as pd

    cache: ScoreCache = {}
    n_rows = len(frame)
    # The leader and the tested rows must be testable; rows past them are only shown.
    need = tie_tests + 1 if top is None else min(top, tie_tests + 1)
    why = _untestable(frame, db, target, by, cache, need) if n_rows else {}
    apart = [i for i in range(n_rows) if i in why]
    ranked = [i for i in range(n_rows) if i not in why]
    if not ranked:
        # Nothing can be tested: a plain ranking by value, every row after the first untested.
        ranked, apart = apart, []
    if top is not None:
        ranked, apart = ranked[:top], apart[:top]
    order = ranked + apart
    out: pd.DataFrame = frame.iloc[order].reset_index(drop=True)
    k = len(ranked)
    ranks = out["value"].iloc[:k].rank(method="min", ascending=not descending)
    out["rank"] = pd.array([*ranks.astype(int), *([None] * len(apart))], dtype="Int64")
    notes = [why.get(i, "") for i in order]
    tied: list[bool | None] = [None] * len(out)
    tests = [""] * len(out)
    p_raw = [math.nan] * len(out)
    p_adj = [math.nan] * len(out)
    if k:
        tied[0] = True
        leader = _entry(out, 0, by, runs)
        value = [float(v) for v in out["value"]]
        tested: list[tuple[int, TestResult]] = []
        for i in range(1, k):
            if i > tie_tests:
                notes[i] = notes[i] or f"beyond the first {tie_tests} tested"
                tied[i] = True if value[i] == value[0] else None
                continue
            if notes[i]:  # the plain ranking: nothing is testable
                tied[i] = True if value[i] == value[0] else None
                continue
            other = _entry(out, i, by, runs)
            try:
                if by == "group":
                    # Welch on the values already read, instead of reading each run again.
                    res = welch_t_test(
                        [run_values[r.id] for r in leader.runs],
                        [run_values[r.id] for r in other.runs],
                        level=level,
                        labels=(leader.label, other.label),
                    )
                else:
                    res = _one(leader, other, db, target, "auto", seed, level, resamples, cache)
            except ConfigError:
                # No test applies to this pair (other sample ids): tied on an equal value,
                # else untested (None) -- not "not tied", which only a test can say.
                notes[i] = "no test against the leader applies"
                tied[i] = True if value[i] == value[0] else None
                continue
            tested.append((i, res))
        adjusted = holm([r.p_value for _, r in tested]) if tested else []
        for (i, res), p in zip(tested, adjusted, strict=True):
            tests[i], p_raw[i], p_adj[i] = res.test, res.p_value, p
            tied[i] = bool(p >= 1 - level)
    out["test"] = tests
    out["p_value"] = p_raw
    out["p_adjusted"] = p_adj
    out["tied"] = pd.Series(tied, index=out.index, dtype=object)
    out["status"] = [
        "leader" if i == 0 and k else "untested" if t is None else "tied" if t else "behind"
        for i, t in enumerate(tied)
    ]
    out["note"] = notes
    return out


def leaderboard_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A :func:`leaderboard` frame's rows as JSON-ready dicts (``leaderboard --json``, the
    dashboard): a group's id as ``group:<key>``; missing numbers (NaN) and the unranked rows'
    rank (<NA>) as None."""
    import pandas as pd

    from trialbook.analysis._groups import group_ref

    groups = frame.attrs.get("by") == "group"
    records = [{str(k): v for k, v in r.items()} for r in frame.to_dict(orient="records")]
    for r in records:
        r["id"] = group_ref(str(r["id"])) if groups else r["id"]
        r.update(
            {
                k: None
                for k, v in r.items()
                if v is pd.NA or (isinstance(v, float) and math.isnan(v))
            }
        )
    return records
