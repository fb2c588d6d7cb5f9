"""What a user's reference (``run_3f2a``, ``group:9c1e``, ``baseline``) names: one run or a seed
group, as an :class:`Entry` that compare, significance and reports read values from.

The grammar, tried in this order:

* ``group:<prefix>`` -- the seed group whose group key starts with ``<prefix>`` (shown in
  this form by ``trialbook ls --by group``, ``trialbook show`` and ``leaderboard --by group``);
  the prefix must name one group.
* a run reference as ``trialbook show`` takes it -- full id, unique id prefix, short id (the
  folder suffix) or unique name; a name shared by several runs of one seed group (the same
  config with different seeds) names that group.
* an experiment name whose runs form one seed group.
* any of these followed by ``@<seed>`` (``bow@1``, ``group:9c1e@2``) -- the completed run with
  that seed in the group the rest names; tried only when the whole text names nothing.

Groups hold their completed runs only: a failed or crashed seed has no final metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from trialbook.errors import AmbiguousRunError, ConfigError, RunNotFoundError

if TYPE_CHECKING:
    from trialbook.store import RunRecord, Store

__all__ = ["Entry", "group_ref", "resolve_refs"]

_GROUP_PREFIX = "group:"


def group_ref(key: str) -> str:
    """The reference that names a seed group, as ``ls --by group`` and the leaderboard print
    it: ``group:`` and the key's first 12 characters (``group:b05b7a6e50c7``)."""
    return f"{_GROUP_PREFIX}{key[:12]}"


@dataclass(frozen=True)
class Entry:
    """One side of a comparison: a single run or the runs of one seed group.

    ``label`` is what the user typed (or the run's name for leaderboard rows); ``runs`` are the
    runs it stands for (one for a run).
    """

    label: str
    kind: Literal["run", "group"]
    runs: tuple[RunRecord, ...]
    group_key: str

    @property
    def run_ids(self) -> list[str]:
        """The ids of the entry's runs."""
        return [r.id for r in self.runs]


def _completed(runs: Sequence[RunRecord]) -> tuple[RunRecord, ...]:
    return tuple(sorted((r for r in runs if r.status == "completed"), key=lambda r: r.id))


def _group(ref: str, key: str, runs: Sequence[RunRecord]) -> Entry:
    done = _completed(runs)
    if not done:
        raise ConfigError(
            f"Group {ref!r} has no completed runs (statuses: "
            f"{', '.join(sorted({r.status for r in runs}))}); wait for them or pick another group."
        )
    return Entry(ref, "group", done, key)


def _resolve_one(ref: str, store: Store) -> Entry:
    try:
        return _resolve_plain(ref, store)
    except RunNotFoundError as e:
        base, at, seed_text = ref.rpartition("@")
        if isinstance(e, AmbiguousRunError) or not at or not base:
            raise
        try:
            seed = int(seed_text)
        except ValueError:
            raise e from None
        group = _resolve_plain(base, store)
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
        if len(runs) > 1:
            raise AmbiguousRunError(
                f"{ref!r} matches {len(runs)} runs ({', '.join(r.id for r in runs[:5])}); "
                "pass a run id."
            ) from None
        return Entry(ref, "run", (runs[0],), runs[0].group_key)


def _resolve_plain(ref: str, store: Store) -> Entry:
    if ref.startswith(_GROUP_PREFIX):
        prefix = ref[len(_GROUP_PREFIX) :]
        if not prefix:
            raise ConfigError(
                "'group:' needs a group key prefix, e.g. 'group:9c1e'; "
                "list groups with `trialbook ls --by group`."
            )
        runs = [r for r in store.list_runs() if r.group_key.startswith(prefix)]
        found = sorted({r.group_key for r in runs})
        if not found:
            raise RunNotFoundError(
                f"No seed group's key starts with {prefix!r}; "
                "list groups with `trialbook ls --by group`."
            )
        if len(found) > 1:
            raise AmbiguousRunError(
                f"{ref!r} matches {len(found)} groups ({', '.join(k[:12] for k in found[:5])}); "
                "pass a longer key prefix."
            )
        return _group(ref, found[0], [r for r in runs if r.group_key == found[0]])
    try:
        run = store.get_run(ref)
        return Entry(ref, "run", (run,), run.group_key)
    except AmbiguousRunError:
        named = [r for r in store.list_runs() if r.name == ref]
        keys = {r.group_key for r in named}
        if named and len(keys) == 1:
            return _group(ref, keys.pop(), named)
        raise
    except RunNotFoundError:
        runs = store.list_runs(experiment=ref)
        if not runs:
            raise RunNotFoundError(
                f"{ref!r} is neither a run (id, prefix, short id or name), a group "
                "('group:<key prefix>') nor an experiment; list them with `trialbook ls`."
            ) from None
        keys = {r.group_key for r in runs}
        if len(keys) > 1:
            raise AmbiguousRunError(
                f"Experiment {ref!r} holds {len(keys)} seed groups; name one as "
                f"'group:<key prefix>' (keys: {', '.join(sorted(k[:8] for k in keys)[:5])})."
            ) from None
        return _group(ref, keys.pop(), runs)


def resolve_refs(refs: Sequence[str], store: Store) -> list[Entry]:
    """The entries the references name, in order (see the module docstring for the grammar).

    Raises:
        RunNotFoundError: a reference names nothing.
        AmbiguousRunError: a reference names several runs or groups.
        ConfigError: no references, or the same entry named twice.
    """
    if not refs:
        raise ConfigError("Name at least one run or group, e.g. `trialbook compare RUN_A RUN_B`.")
    entries = [_resolve_one(ref, store) for ref in refs]
    seen: dict[tuple[str, ...], str] = {}
    for e in entries:
        ids = tuple(e.run_ids)
        if ids in seen:
            raise ConfigError(
                f"{seen[ids]!r} and {e.label!r} name the same runs; compare different entries."
            )
        seen[ids] = e.label
    return entries


# The per-sample values moved to analysis/_samples.py; imported here so ``from
# trialbook.analysis._refs import numeric`` keeps working.
from trialbook.analysis._samples import (  # noqa: E402
    latest_evaluations as latest_evaluations,
)
from trialbook.analysis._samples import numeric as numeric  # noqa: E402
from trialbook.analysis._samples import sample_scores as sample_scores  # noqa: E402
