"""What a user's reference (``run_3f2a``, ``group:9c1e``, ``baseline``, ``demo/bow``) names:
one run or a seed group, as an :class:`Entry` that compare, significance and reports read
values from.

The grammar, tried in this order:

* ``group:<prefix>`` -- the seed group whose group key starts with ``<prefix>`` (shown in
  this form by ``trialbook ls --by group``, ``trialbook show`` and ``leaderboard --by group``);
  the prefix must name one group.
* ``<suite>/<name>`` -- ``<name>`` among the runs of one suite only (the ``suite:<suite>``
  tag every run planned from a suite file carries), e.g. ``demo/bow``.
* a run reference as ``trialbook show`` takes it -- full id, unique id prefix, short id (the
  folder suffix) or unique name.
* a name shared by several runs, or an experiment's name -- the seed group those runs form.
  When they form several groups (the same experiment in two suites, a sweep, a changed
  config), one is used: a group evaluated on the ``benchmark`` (or with the ``metric``) the
  command compares, then one of the suite all the references can come from (the newest such
  suite; else one sharing a suite with most other references), then the newest by its newest
  completed run -- and the
  :class:`Entry` carries a ``note`` saying which group was used and which others exist.
  Groups of different experiments with equal standing are not guessed between: that is an
  :class:`~trialbook.errors.AmbiguousNameError` listing them with the config keys that tell
  them apart.
* any of these followed by ``@<seed>`` (``bow@1``, ``group:9c1e@2``) -- the completed run with
  that seed in the group the rest names; tried only when the whole text names nothing.

A :class:`~trialbook.analysis._scope.Scope` (``--suite``, ``--where``) narrows every name to
the runs it holds; ``group:`` keys and run ids name exactly what they say.

Groups hold their completed runs only (a failed or crashed seed has no final metrics), one
run per seed: the newest completed (a reproduction or a retry of a seed is not another seed;
see :func:`~trialbook.analysis._groups.one_run_per_seed`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from trialbook.analysis._groups import GROUP_PREFIX, group_ref, left_out_note, one_run_per_seed
from trialbook.analysis._samples import numeric
from trialbook.errors import AmbiguousNameError, AmbiguousRunError, ConfigError, RunNotFoundError

if TYPE_CHECKING:
    from trialbook.analysis._scope import Scope
    from trialbook.store import RunRecord, Store

__all__ = ["Entry", "resolve_refs"]

#: Keys that describe a run without changing it: never what tells two groups apart.
_DESCRIPTIVE = ("seed", "experiment.tags", "experiment.description", "experiment.hypothesis")


@dataclass(frozen=True)
class Entry:
    """One side of a comparison: a single run or the runs of one seed group.

    ``label`` is what the user typed (or the run's name for leaderboard rows); ``runs`` are the
    runs it stands for (one for a run; for a group its completed runs, one per seed).
    ``note`` says how a name that fits several groups was resolved (which group, which
    others exist); ``left_out`` are the older runs of a seed the group does not count.
    """

    label: str
    kind: Literal["run", "group"]
    runs: tuple[RunRecord, ...]
    group_key: str
    note: str | None = None
    left_out: tuple[RunRecord, ...] = ()

    @property
    def run_ids(self) -> list[str]:
        """The ids of the entry's runs."""
        return [r.id for r in self.runs]

    @property
    def notes(self) -> list[str]:
        """The sentences worth showing a user about this entry (how it was chosen, what one
        run per seed left out)."""
        out = [self.note] if self.note else []
        left = left_out_note(self.left_out, repr(self.label), self.runs)
        return [*out, left] if left else out


@dataclass(frozen=True)
class _Candidate:
    """A seed group a name may mean."""

    key: str
    runs: tuple[RunRecord, ...]  # completed, one per seed
    left_out: tuple[RunRecord, ...]
    newest: float
    has: bool = True  # has what the command needs
    affinity: int = 0  # other references it shares a suite with

    @property
    def experiment(self) -> str:
        return self.runs[0].experiment

    @property
    def suites(self) -> tuple[str, ...]:
        return tuple(sorted(_suites_of(self.runs)))

    def entry(self, label: str, note: str | None = None) -> Entry:
        return Entry(label, "group", self.runs, self.key, note, self.left_out)


@dataclass(frozen=True)
class _Choice:
    """A name that fits several groups, decided once every reference is read."""

    ref: str
    candidates: tuple[_Candidate, ...]
    need: _Need


@dataclass(frozen=True)
class _Need:
    """What the command compares, so that a group that has it is preferred."""

    benchmark: str | None = None
    metric: str | None = None

    def met_by(self, runs: Sequence[RunRecord], store: Store) -> bool:
        if self.benchmark is None and self.metric is None:
            return True
        ids = [r.id for r in runs]
        for evs in store.bulk_evaluations(ids).values():
            for ev in evs:
                if self.benchmark is not None and ev.benchmark != self.benchmark:
                    continue
                if self.metric is None or numeric(ev.metrics.get(self.metric)) is not None:
                    return True
        if self.benchmark is None and self.metric is not None:
            sums = store.metric_summaries(ids, [self.metric])
            return any(self.metric in per for per in sums.values())
        return False

    def describe(self) -> str:
        if self.benchmark is not None:
            return f"evaluated on {self.benchmark}"
        return f"has {self.metric}"


def _newest(runs: Sequence[RunRecord]) -> float:
    return max((r.ended_at or r.started_at or 0.0) for r in runs)


def _completed(runs: Sequence[RunRecord]) -> tuple[tuple[RunRecord, ...], tuple[RunRecord, ...]]:
    done = sorted((r for r in runs if r.status == "completed"), key=lambda r: r.id)
    kept, left = one_run_per_seed(done)
    # In seed order, as a person reads them (runs started together have random id tails).
    kept = sorted(kept, key=lambda r: (r.seed is None, r.seed or 0, r.id))
    return tuple(kept), tuple(left)


def _group(ref: str, key: str, runs: Sequence[RunRecord]) -> Entry:
    done, left = _completed(runs)
    if not done:
        raise ConfigError(
            f"Group {ref!r} has no completed runs (statuses: "
            f"{', '.join(sorted({r.status for r in runs}))}); wait for them or pick another group."
        )
    return Entry(ref, "group", done, key, None, left)


def _candidates(runs: Sequence[RunRecord], need: _Need, store: Store) -> list[_Candidate]:
    by_key: dict[str, list[RunRecord]] = {}
    for r in runs:
        by_key.setdefault(r.group_key, []).append(r)
    out = []
    for key, members in by_key.items():
        done, left = _completed(members)
        if done:
            out.append(_Candidate(key, done, left, _newest(done), need.met_by(done, store)))
    return out


def _scoped_runs(store: Store, scope: Scope, ref: str) -> list[RunRecord]:
    """The runs of the scope named ``ref`` (by run name) or of the experiment ``ref``."""
    base = scope.query()
    seen: dict[str, RunRecord] = {}
    for r in store.list_runs(replace(base, experiment=ref)):
        seen[r.id] = r
    if not any(c in ref for c in "*?"):  # a pattern is not a name here
        for r in store.list_runs(replace(base, name=ref)):
            seen[r.id] = r
    return list(seen.values())


def _not_found(ref: str, scope: Scope, store: Store) -> RunNotFoundError:
    if scope.empty:
        from trialbook.config._suggest import closest

        names = {e.name for e in store.list_experiments()} | {r.name for r in store.list_runs()}
        hint = closest(ref, names)
        guess = f"; did you mean {hint!r}?" if hint else "."
        return RunNotFoundError(
            f"{ref!r} is neither a run (id, prefix, short id or name), a group "
            f"('group:<key prefix>') nor an experiment{guess}",
            parameter="refs",
            value=ref,
        )
    return RunNotFoundError(
        f"{ref!r} names no run of {scope.describe()}; name another, or widen the scope "
        "(suite=, where=).",
        parameter="refs",
        value=ref,
    )


def _by_name(ref: str, store: Store, scope: Scope, need: _Need) -> Entry | _Choice:
    """A run by id or unique name, else the seed group(s) a name or experiment stands for."""
    run: RunRecord | None = None
    ambiguous: AmbiguousRunError | None = None
    try:
        run = store.get_run(ref)
    except AmbiguousRunError as e:
        ambiguous = e
    except RunNotFoundError:
        pass
    if run is not None and run.name != ref:
        return Entry(ref, "run", (run,), run.group_key)  # an id, id prefix or short id
    runs = _scoped_runs(store, scope, ref)
    if not runs:
        if ambiguous is not None:
            raise ambiguous  # an id prefix of several runs, not a name
        raise _not_found(ref, scope, store)
    if run is not None and [r.id for r in runs] == [run.id]:
        return Entry(ref, "run", (run,), run.group_key)  # a unique name
    candidates = _candidates(runs, need, store)
    if not candidates:
        return _group(ref, runs[0].group_key, runs)  # raises: no completed runs
    if len(candidates) == 1:
        return candidates[0].entry(ref)
    return _Choice(ref, tuple(candidates), need)


def _suite_part(ref: str, store: Store, scope: Scope) -> tuple[str, Scope] | None:
    """``demo/bow`` -> (``bow``, the scope narrowed to the suite demo), when demo is a suite."""
    from trialbook.config._plan import suite_tag

    suite, slash, rest = ref.partition("/")
    if not slash or not suite or not rest:
        return None
    if not store.list_runs(tags=(suite_tag(suite),), limit=1):
        return None
    return rest, replace(scope, suite=suite)


def _read_plain(ref: str, store: Store, scope: Scope, need: _Need) -> Entry | _Choice:
    if ref.startswith(GROUP_PREFIX):
        return _group_by_key(ref, store)
    split = _suite_part(ref, store, scope)
    if split is not None:
        rest, narrowed = split
        got = _read_plain(rest, store, narrowed, need)
        return replace(got, label=ref) if isinstance(got, Entry) else replace(got, ref=ref)
    return _by_name(ref, store, scope, need)


def _read_one(ref: str, store: Store, scope: Scope, need: _Need) -> Entry | _Choice:
    try:
        return _read_plain(ref, store, scope, need)
    except RunNotFoundError as e:
        base, at, seed_text = ref.rpartition("@")
        if isinstance(e, AmbiguousRunError) or not at or not base:
            if "/" in ref and not isinstance(e, AmbiguousRunError):
                raise _unknown_suite(ref, store) from None
            raise
        try:
            seed = int(seed_text)
        except ValueError:
            raise e from None
        group = _decide(_read_one(base, store, scope, need), [], store)
        runs = [r for r in group.runs if r.seed == seed]
        if not runs:
            seeds = sorted({r.seed for r in group.runs if r.seed is not None})
            if not seeds:
                raise RunNotFoundError(
                    f"{base!r} has no run with a seed; name it without '@{seed_text}'."
                ) from None
            raise RunNotFoundError(
                f"{base!r} has no completed run with seed {seed} (its seeds: "
                f"{', '.join(map(str, seeds))}); pick one of those, e.g. '{base}@{seeds[0]}'."
            ) from None
        # A group holds one run per seed, so the seed names one run.
        return Entry(ref, "run", (runs[0],), runs[0].group_key, group.note)


def _unknown_suite(ref: str, store: Store) -> RunNotFoundError:
    from trialbook.analysis._scope import known_suites, suggest_key

    suite = ref.partition("/")[0]
    suites = known_suites(store.list_runs())
    match = suggest_key(suite, suites)
    hint = (
        f"did you mean '{match}/{ref.partition('/')[2]}'?"
        if match
        else f"the suites here: {', '.join(suites)}."
        if suites
        else "no run here was planned from a suite file."
    )
    return RunNotFoundError(f"{ref!r} names no run, and {suite!r} is not a suite; {hint}")


def _group_by_key(ref: str, store: Store) -> Entry:
    prefix = ref[len(GROUP_PREFIX) :]
    if not prefix:
        raise ConfigError(
            "'group:' needs a group key prefix, e.g. 'group:9c1e' (the seed_groups frame's "
            "'group' column holds the keys).",
            parameter="refs",
            value=ref,
        )
    # A whole key is one indexed query; a prefix scans the runs.
    runs = store.list_runs(group_key=prefix) or [
        r for r in store.list_runs() if r.group_key.startswith(prefix)
    ]
    found = sorted({r.group_key for r in runs})
    if not found:
        raise RunNotFoundError(
            f"No seed group's key starts with {prefix!r}.", parameter="refs", value=ref
        )
    if len(found) > 1:
        raise AmbiguousRunError(
            f"{ref!r} matches {len(found)} groups ({', '.join(k[:12] for k in found[:5])}); "
            "pass a longer key prefix."
        )
    return _group(ref, found[0], [r for r in runs if r.group_key == found[0]])


# --------------------------------------------------------------------------- choosing
def _differences(cands: Sequence[_Candidate], store: Store) -> list[dict[str, Any]]:
    """Per candidate, the flattened config keys whose value differs among the candidates."""
    params = store.bulk_params([c.runs[0].id for c in cands])
    flat = [params.get(c.runs[0].id, {}) for c in cands]
    keys = sorted({k for p in flat for k in p if not k.startswith(_DESCRIPTIVE)})
    differing = [k for k in keys if len({repr(p.get(k, _ABSENT)) for p in flat}) > 1]
    return [{k: p.get(k, _ABSENT) for k in differing} for p in flat]


class _Absent:
    """A config key the candidate does not have (a value of None is a real null)."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()


def _clipped(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _describe(c: _Candidate, diff: Mapping[str, Any], *, experiment: bool, keys: int = 3) -> str:
    parts = [f"experiment {c.experiment}"] if experiment else []
    if c.suites:
        parts.append(f"suite {', '.join(c.suites)}")
    parts.append(f"{len(c.runs)} run{'s' if len(c.runs) != 1 else ''}")
    # Keys it sets first; the keys only the others have, as their top-level sections.
    present = [(k, v) for k, v in diff.items() if v is not _ABSENT]
    parts += [f"{k}={_clipped(v)}" for k, v in present[:keys]]
    if len(present) > keys:
        parts.append(f"+{len(present) - keys} more keys")
    absent = list(dict.fromkeys(k.split(".")[0] for k, v in diff.items() if v is _ABSENT))
    if absent:
        more = f" +{len(absent) - keys} more" if len(absent) > keys else ""
        parts.append(f"no {', '.join(f'{a}.*' for a in absent[:keys])}{more}")
    return f"{group_ref(c.key)} ({', '.join(parts)})"


def _rank(c: _Candidate) -> tuple[bool, int, float, str]:
    return (c.has, c.affinity, c.newest, c.key)


def _suites_of(runs: Sequence[RunRecord]) -> set[str]:
    from trialbook.config._plan import suite_of

    return {s for r in runs for s in suite_of(r.tags)}


def _shared_suite(read: Sequence[Entry | _Choice]) -> str | None:
    """The suite every reference can be taken from (each fixed entry is in it, each ambiguous
    name has a group in it that has what the command needs, when one has), the newest such;
    None when there is none or nothing is ambiguous."""
    if not any(isinstance(x, _Choice) for x in read):
        return None
    newest: dict[str, float] = {}
    allowed: set[str] | None = None
    for x in read:
        if isinstance(x, Entry):
            have = _suites_of(x.runs)
            if have:  # a run or group without a suite constrains nothing
                allowed = have if allowed is None else allowed & have
            continue
        useful = [c for c in x.candidates if c.has] or list(x.candidates)
        have = set()
        for c in useful:
            for suite in c.suites:
                have.add(suite)
                newest[suite] = max(newest.get(suite, 0.0), c.newest)
        allowed = have if allowed is None else allowed & have
    if not allowed:
        return None
    return max(sorted(allowed), key=lambda suite: newest.get(suite, 0.0))


def _decide(
    item: Entry | _Choice,
    others: Sequence[Entry | _Choice],
    store: Store,
    shared: str | None = None,
) -> Entry:
    """The entry a reference stands for, picking among several groups (see the module
    docstring) with a note, or raising AmbiguousNameError when no rule can pick. ``shared``
    is the suite all references can come from, preferred when there is one."""
    if isinstance(item, Entry):
        return item
    if shared is not None:
        cands = [replace(c, affinity=int(shared in c.suites)) for c in item.candidates]
    else:
        other_suites = []
        for o in others:
            runs = o.runs if isinstance(o, Entry) else [r for c in o.candidates for r in c.runs]
            other_suites.append(_suites_of(runs))
        cands = [
            replace(c, affinity=sum(1 for s in other_suites if s & set(c.suites)))
            for c in item.candidates
        ]
    cands.sort(key=_rank, reverse=True)
    best = cands[0]
    tied = [c for c in cands if (c.has, c.affinity) == (best.has, best.affinity)]
    diffs = _differences(cands, store)
    experiments = sorted({c.experiment for c in tied})
    if len(experiments) > 1:
        listed = "; ".join(
            _describe(c, d, experiment=True) for c, d in zip(cands, diffs, strict=True)
        )
        raise AmbiguousNameError(
            f"{item.ref!r} names {len(cands)} seed groups of {len(experiments)} experiments "
            f"({', '.join(experiments)}) and none is preferred: {listed}; name one as "
            f"'{group_ref(best.key)}'.",
            name=item.ref,
            choices=tuple(group_ref(c.key) for c in cands),
        )
    why = [f"suite {', '.join(best.suites)}"] if best.suites else []
    why.append(f"{len(best.runs)} run{'s' if len(best.runs) != 1 else ''}")
    if best.has and not all(c.has for c in cands):
        why.append(item.need.describe())
    if best.affinity and any(c.affinity < best.affinity for c in cands if c.has == best.has):
        why.append("same suite as the other names")
    if len(tied) > 1:
        why.append("newest")
    rest = [_describe(c, d, experiment=False) for c, d in zip(cands[1:], diffs[1:], strict=True)]
    shown = rest[:3] + ([f"{len(rest) - 3} more"] if len(rest) > 3 else [])
    # `suite/experiment` picks another group only from a suite the chosen one is not in.
    example = next(
        (f"`{s}/{best.experiment}`" for c in cands[1:] for s in c.suites if s not in best.suites),
        None,
    )
    pick = (
        f"`group:<key>` or `suite/experiment` (e.g. {example})"
        if example
        else f"`group:<key>` (e.g. `{group_ref(cands[1].key)}`)"
    )
    note = (
        f"{item.ref!r} names {len(cands)} seed groups; using {group_ref(best.key)} "
        f"({', '.join(why)}); others: {', '.join(shown)} -- pass {pick} to pick another."
    )
    return best.entry(item.ref, note)


def resolve_refs(
    refs: Sequence[str | Entry],
    store: Store,
    *,
    scope: Scope | None = None,
    benchmark: str | None = None,
    metric: str | None = None,
) -> list[Entry]:
    """The entries the references name, in order (see the module docstring for the grammar).

    Args:
        refs: References as a user types them; an :class:`Entry` (already resolved) is kept.
        store: The Store to read.
        scope: Narrow names to a suite and ``--where`` conditions.
        benchmark, metric: What the command compares: among several groups a name fits, one
            that has it is preferred.

    Raises:
        RunNotFoundError: a reference names nothing.
        AmbiguousRunError: a reference names several runs or groups (an
            :class:`~trialbook.errors.AmbiguousNameError` lists the groups when no rule
            picks one).
        ConfigError: no references, the same entry named twice, or an unknown suite or key
            in the scope.
    """
    from trialbook.analysis._scope import Scope, check_names

    if not refs:
        raise ConfigError(
            "refs is empty; name at least one run or group.", parameter="refs", value=[]
        )
    scope = scope or Scope()
    if not scope.empty:
        check_names(store, scope=scope)
    need = _Need(benchmark, metric)
    read = [r if isinstance(r, Entry) else _read_one(r, store, scope, need) for r in refs]
    shared = _shared_suite(read)
    entries = [
        _decide(item, [o for j, o in enumerate(read) if j != i], store, shared)
        for i, item in enumerate(read)
    ]
    seen: dict[tuple[str, ...], str] = {}
    for e in entries:
        ids = tuple(e.run_ids)
        if ids in seen:
            raise ConfigError(
                f"{seen[ids]!r} and {e.label!r} name the same runs; compare different entries."
            )
        seen[ids] = e.label
    return entries
