"""The abstract Store: what every backend provides, and the conveniences built on top.

A backend implements the abstract methods; lookups by prefix or name, crash detection on
read and the typed wrappers live here once, so every backend behaves the same.
"""

from __future__ import annotations

import abc
import bisect
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trialbook._types import RunStatus
from trialbook.errors import AmbiguousRunError, RunNotFoundError, StoreError, WorkspaceError
from trialbook.store._buckets import MetricBuckets, bucket_points, check_buckets
from trialbook.store._liveness import JobHolder, LivenessPolicy, RunningProcess
from trialbook.store._records import (
    Artifact,
    Checkpoint,
    Dataset,
    Evaluation,
    Experiment,
    MetricHistory,
    MetricSummary,
    NewRun,
    RunQuery,
    RunRecord,
    Sample,
    StoreStats,
    latest_by_benchmark,
)

if TYPE_CHECKING:
    from trialbook.store._stream import MetricStream

__all__ = ["KeyPage", "MetricColumns", "MetricSeries", "Store", "change_time"]

#: A batch of points grouped by key: ``{key: [(step, value, time), ...]}``. NaN is allowed.
MetricSeries = Mapping[str, Sequence[tuple[int, float, float]]]
#: The same batch as columns: ``{key: (steps, values, times)}``, three equally long sequences.
MetricColumns = Mapping[str, tuple[Sequence[int], Sequence[float], Sequence[float]]]

logger = logging.getLogger("trialbook")


@dataclass(frozen=True)
class KeyPage:
    """A capped list of param or metric keys (:meth:`Store.column_keys`): ``keys`` in the
    order asked, and ``total``, how many keys matched before the cap."""

    keys: tuple[str, ...]
    total: int


def change_time(run: RunRecord) -> float | None:
    """When a run last changed as :meth:`Store.changed_runs` sees it: the latest of its
    ``started_at``, ``heartbeat_at`` and ``ended_at`` (None when it has none of them, as a
    queued run)."""
    times = [t for t in (run.started_at, run.heartbeat_at, run.ended_at) if t is not None]
    return max(times) if times else None


def _search_matches(key: str, search: str | None) -> bool:
    return search is None or search.lower() in key.lower()


#: Fields of a run that :meth:`Store.update_run` may change.
UPDATABLE_RUN_FIELDS = frozenset(
    {
        "status",
        "notes",
        "tags",
        "heartbeat_at",
        "ended_at",
        "duration",
        "error",
        "git_commit",
        "git_branch",
        "git_dirty",
        "folder",
        "host",
        "pid",
        "pid_started_at",
        "started_at",
    }
)


class Store(abc.ABC):
    """Where runs, metrics, evaluations and lineage are indexed.

    Rules every backend follows:

    * Every method is thread-safe and may be called from the tracker's writer thread while
      other threads read. Several processes may use one database at once; a backend retries
      transient lock errors itself and never surfaces them.
    * Every record returned is a frozen dataclass from :mod:`trialbook.store`; mutating the
      Store never changes a record already handed out.
    * Writes are atomic: a call either stores everything it was given or nothing.
    * Metric values may be NaN or +-inf and come back exactly as given (NaN as NaN).
    * Reads of runs (:meth:`get_run`, :meth:`list_runs`) first mark runs whose process is
      gone as ``crashed`` (see :class:`~trialbook.store.LivenessPolicy`).
    * Errors: an unknown run id raises :class:`~trialbook.errors.RunNotFoundError`; a prefix
      or name matching several runs raises :class:`~trialbook.errors.AmbiguousRunError`;
      database problems raise :class:`~trialbook.errors.StoreError` subclasses. Foreign
      exceptions (SQLAlchemy, drivers) never escape.
    """

    #: The most metric points the tracker's writer hands to one :meth:`log_metric_columns`
    #: call (one transaction). Small where an open write transaction blocks every other
    #: writer (SQLite's file lock); a backend that locks rows may take more at once.
    batch_points: int = 50_000

    def __init__(self, liveness: LivenessPolicy | None = None) -> None:
        self.liveness = liveness or LivenessPolicy()
        self._reap_lock = threading.Lock()
        self._last_reap = -1e9

    # ----------------------------------------------------------------- experiments
    @abc.abstractmethod
    def ensure_experiment(
        self, name: str, description: str | None = None, hypothesis: str | None = None
    ) -> Experiment:
        """Return the experiment called ``name``, creating it if needed.

        A description or hypothesis given for an existing experiment that has none is filled in.
        """

    @abc.abstractmethod
    def list_experiments(self) -> list[Experiment]:
        """Every experiment, by name."""

    # ----------------------------------------------------------------- runs (write)
    @abc.abstractmethod
    def create_run(self, run: NewRun) -> RunRecord:
        """Insert a run, its experiment (if new), its tags, and its params (``run.params``:
        the config flattened by the caller, ``{"training": {"lr": 1}}`` giving the param
        ``training.lr``), atomically."""

    @abc.abstractmethod
    def update_run(self, run_id: str, **fields: Any) -> None:
        """Change fields of a run; see ``UPDATABLE_RUN_FIELDS``. Unknown run: RunNotFoundError."""

    @abc.abstractmethod
    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        ended_at: float,
        duration: float | None,
        error: str | None = None,
    ) -> bool:
        """Mark a run finished unless it already is; True when this call changed it.

        A run that another reader already marked ``crashed`` is overwritten, because the
        owner finishing it proves it was alive.
        """

    @abc.abstractmethod
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Add or replace flattened params (``{"training.lr": 1e-4}``)."""

    @abc.abstractmethod
    def log_metric_columns(self, run_id: str, columns: MetricColumns) -> None:
        """Append metric points and update the per-key summaries, in one transaction.

        ``columns`` maps each key to ``(steps, values, times)`` in logging order. This is
        the writer's path: columns avoid building one object per point.
        """

    def metric_stream(self, run_id: str) -> MetricStream | None:
        """A stream that sends a run's points as they come and commits them together
        (:class:`~trialbook.store._stream.MetricStream`), or None when this Store has none
        (the writer then calls :meth:`log_metric_columns` for each batch)."""
        return None

    @abc.abstractmethod
    def log_evaluation(
        self,
        run_id: str,
        benchmark: str,
        metrics: Mapping[str, Any],
        *,
        split: str | None = None,
        n: int | None = None,
        duration: float | None = None,
        samples: Iterable[Sample] = (),
    ) -> Evaluation:
        """Store an evaluation summary and its per-sample results together."""

    @abc.abstractmethod
    def log_checkpoint(
        self,
        run_id: str,
        path: str,
        *,
        step: int | None = None,
        size: int | None = None,
        sha256: str | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> Checkpoint:
        """Record a checkpoint (the file itself stays where it is)."""

    @abc.abstractmethod
    def log_artifact(
        self,
        run_id: str,
        path: str,
        *,
        kind: str | None = None,
        size: int | None = None,
        sha256: str | None = None,
    ) -> Artifact:
        """Record an artifact file."""

    @abc.abstractmethod
    def log_dataset(
        self,
        run_id: str,
        name: str,
        path: str,
        *,
        sha256: str | None = None,
        size: int | None = None,
        rows: int | None = None,
        parent: str | None = None,
        transform: str | None = None,
    ) -> Dataset:
        """Record that a run used a dataset; the same name, path and checksum reuse one row."""

    # ----------------------------------------------------------------- runs (read)
    @abc.abstractmethod
    def _lookup_runs(self, ref: str) -> list[RunRecord]:
        """Runs whose id equals ``ref``; else whose id starts with it; else whose short id
        (the random tail after the last ``_``) equals it; else whose name equals it."""

    @abc.abstractmethod
    def _list_runs(self, query: RunQuery) -> list[RunRecord]:
        """Runs matching ``query``, ordered and limited as it says."""

    @abc.abstractmethod
    def _running_processes(self) -> list[RunningProcess]:
        """The liveness facts of every run whose status is ``running``."""

    @abc.abstractmethod
    def _mark_crashed(self, run_ids: Sequence[str], at: float) -> None:
        """Set ``crashed`` on those runs that are still ``running``."""

    @abc.abstractmethod
    def params(self, run_id: str) -> dict[str, Any]:
        """The flattened params of a run."""

    @abc.abstractmethod
    def metric_history(self, run_id: str, key: str) -> MetricHistory:
        """Every point of one metric, by step then logging order (empty if none)."""

    def metric_history_after(self, run_id: str, key: str, after_step: int) -> MetricHistory:
        """The points of one metric whose step is above ``after_step``, by step then logging
        order (empty if none): what a follower polling a growing history has not seen yet.

        This version reads the whole history and filters it; SQL stores read only the newer
        points (an index seek).
        """
        h = self.metric_history(run_id, key)
        i = bisect.bisect_right(h.steps, after_step)
        return MetricHistory(run_id, key, h.steps[i:], h.values[i:], h.times[i:])

    def metric_buckets(
        self, run_id: str, key: str, buckets: int, *, after_step: int | None = None
    ) -> MetricBuckets:
        """One metric reduced to at most ``buckets`` step buckets, each with its last point
        and the min, max and count of its points (see :class:`MetricBuckets`); only points
        after ``after_step`` when it is given. Empty when the run or key has no points.

        Bucket ``i`` holds exactly the points with ``steps[i - 1] < step <= steps[i]``, and
        the buckets split the steps into ranges of about equal width. This version reads the
        whole history and uses equal widths; SQL stores reduce long histories from the
        blocks the writer keeps (see ``trialbook/store/_buckets.py``), whose bucket edges
        move by less than one block of 64 points.

        Raises:
            TrialbookError: ``buckets`` is not between 2 and 20,000.
        """
        check_buckets(buckets)
        h = self.metric_history(run_id, key)
        rows = zip(h.steps, h.values, h.times, strict=True)
        return bucket_points(
            run_id,
            key,
            (r for r in rows if after_step is None or r[0] > after_step),
            buckets,
            first_time=h.times[0] if h.times else None,
            last_step=h.steps[-1] if h.steps else None,
        )

    def metric_decimated(self, run_id: str, key: str, buckets: int) -> MetricHistory:
        """The last point of each of at most ``buckets`` step buckets of one metric: the
        ``steps``/``values``/``times`` of :meth:`metric_buckets` without the envelope, so a
        store can seek each bucket's last point instead of reading every point (a curve
        drawn without its min/max band). Empty when the run or key has no points.

        Raises:
            TrialbookError: ``buckets`` is not between 2 and 20,000.
        """
        b = self.metric_buckets(run_id, key, buckets)
        return MetricHistory(run_id, key, b.steps, b.values, b.times)

    @abc.abstractmethod
    def metric_summaries(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> dict[str, dict[str, MetricSummary]]:
        """``{run_id: {key: summary}}`` for the given runs (and keys, when given)."""

    @abc.abstractmethod
    def evaluations(self, run_id: str, benchmark: str | None = None) -> list[Evaluation]:
        """Evaluations of a run, oldest first."""

    @abc.abstractmethod
    def samples(self, evaluation_id: int) -> list[Sample]:
        """Per-sample results of one evaluation, in the order they were logged."""

    @abc.abstractmethod
    def checkpoints(self, run_id: str) -> list[Checkpoint]:
        """Checkpoints of a run, oldest first."""

    @abc.abstractmethod
    def artifacts(self, run_id: str) -> list[Artifact]:
        """Artifacts of a run, oldest first."""

    @abc.abstractmethod
    def datasets(self, run_id: str) -> list[Dataset]:
        """Datasets a run declared."""

    @abc.abstractmethod
    def stats(self) -> StoreStats:
        """Counts by status and experiment, and the database size where known."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections. The Store must not be used afterwards."""

    # ----------------------------------------------------------------- conveniences
    def log_metrics(self, run_id: str, series: MetricSeries) -> None:
        """Append points given as ``{key: [(step, value, time), ...]}`` (see
        :meth:`log_metric_columns`)."""
        columns = {
            key: ([p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts])
            for key, pts in series.items()
        }
        self.log_metric_columns(run_id, columns)

    def get_run(self, ref: str) -> RunRecord:
        """A run by full id, unique id prefix, short id (folder suffix) or unique name.

        Raises:
            RunNotFoundError: nothing matches.
            AmbiguousRunError: the prefix or name matches several runs.
        """
        self.reap_dead_runs()
        matches = self._lookup_runs(ref)
        if not matches:
            raise RunNotFoundError(
                f"No run matches {ref!r}; pass an id, a unique id prefix or a unique name.",
                parameter="ref",
                value=ref,
            )
        if len(matches) > 1:
            shown = ", ".join(r.id for r in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            raise AmbiguousRunError(
                f"{ref!r} matches {len(matches)} runs ({shown}{more}); "
                "pass a full run id or a longer id prefix."
            )
        return matches[0]

    def list_runs(self, query: RunQuery | None = None, **filters: Any) -> list[RunRecord]:
        """Runs matching a :class:`RunQuery` (or its fields as keyword arguments)."""
        if query is None:
            query = RunQuery(**filters)
        elif filters:
            raise TypeError("pass either a RunQuery or keyword filters, not both")
        self.reap_dead_runs()
        return self._list_runs(query)

    def count_runs(self, query: RunQuery | None = None) -> int:
        """How many runs match ``query``, ignoring its ``limit`` and ``offset``."""
        from dataclasses import replace

        query = replace(query or RunQuery(), limit=None, offset=0)
        return len(self.list_runs(query))

    def column_keys(
        self,
        kind: Literal["params", "metrics"],
        *,
        experiment: str | None = None,
        run_ids: Sequence[str] | None = None,
        search: str | None = None,
        varying: bool = False,
        limit: int = 200,
    ) -> KeyPage:
        """The distinct param or metric keys of the runs of ``experiment`` (or of ``run_ids``,
        or of every run), most common first, then by name, at most ``limit`` of them.

        ``search`` keeps keys containing it (ignoring case). ``varying`` keeps only params
        whose value differs among those runs or that some of them lack (for metrics it keeps
        keys that some of the runs lack, or all when every run has them -- it is meant for
        params). Backends count in the database, so a run with 10,000 metric keys costs one
        query, not 10,000 records.
        """
        if kind not in ("params", "metrics"):
            from trialbook.errors import ConfigError

            raise ConfigError(
                f"kind={kind!r} must be 'params' or 'metrics'.", parameter="kind", value=kind
            )
        ids = (
            list(run_ids)
            if run_ids is not None
            else [r.id for r in self.list_runs(experiment=experiment)]
        )
        counts: dict[str, int] = {}
        values: dict[str, set[str]] = {}
        if kind == "params":
            import json

            for per in self.bulk_params(ids).values():
                for key, value in per.items():
                    counts[key] = counts.get(key, 0) + 1
                    values.setdefault(key, set()).add(
                        json.dumps(value, sort_keys=True, default=str)
                    )
        else:
            for sums in self.metric_summaries(ids).values():
                for key in sums:
                    counts[key] = counts.get(key, 0) + 1
        keys = [k for k in counts if _search_matches(k, search)]
        if varying and kind == "params":
            keys = [k for k in keys if len(values[k]) > 1 or counts[k] < len(ids)]
        keys.sort(key=lambda k: (-counts[k], k))
        return KeyPage(tuple(keys[: max(limit, 0)]), len(keys))

    def evaluation_metrics(self, experiment: str | None = None) -> dict[str, list[str]]:
        """``{benchmark: [metric, ...]}`` of the evaluations of ``experiment``'s runs (of every
        run when None), both sorted; nested metrics as dotted keys. Read from each benchmark's
        latest evaluation, so a benchmark's metrics are assumed the same in every run."""
        from trialbook._values import flatten

        runs = self.list_runs(experiment=experiment)
        latest: dict[str, Evaluation] = {}
        for evs in self.bulk_evaluations([r.id for r in runs]).values():
            for ev in evs:
                have = latest.get(ev.benchmark)
                if have is None or (ev.created_at, ev.id) > (have.created_at, have.id):
                    latest[ev.benchmark] = ev
        return {b: sorted(flatten(latest[b].metrics)) for b in sorted(latest)}

    def run_counts(self, by: Literal["experiment", "status", "tag"]) -> dict[str, int]:
        """How many runs each experiment, status or tag has (those with none left out),
        sorted by name; counted in the database by backends."""
        if by not in ("experiment", "status", "tag"):
            from trialbook.errors import ConfigError

            raise ConfigError(
                f"by={by!r} must be 'experiment', 'status' or 'tag'.", parameter="by", value=by
            )
        counts: dict[str, int] = {}
        for r in self.list_runs():
            names = r.tags if by == "tag" else (r.experiment if by == "experiment" else r.status,)
            for name in set(names):
                counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))

    def change_tags(
        self, run_id: str, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> tuple[str, ...]:
        """Add and remove tags of a run (kept in order, new ones last) and return its tags.

        Raises:
            ConfigError: a tag that is not a non-empty string of at most 255 characters.
            RunNotFoundError: no run has this id.
        """
        from trialbook.errors import ConfigError

        added, removed = list(add), set(remove)
        for tag in added:
            if not isinstance(tag, str) or not tag.strip() or len(tag) > 255:
                raise ConfigError(
                    f"Tag {str(tag)[:80]!r} must be a non-empty text of at most 255 characters.",
                    parameter="tags",
                    value=tag,
                )
        run = self.get_run(run_id)
        tags = [t for t in run.tags if t not in removed]
        tags += [t for t in dict.fromkeys(added) if t not in tags and t not in removed]
        self.update_run(run.id, tags=tuple(tags))
        return tuple(tags)

    def changed_runs(
        self, since: float | None, *, watch: Sequence[str] = (), limit: int = 500
    ) -> list[RunRecord]:
        """Runs that changed after ``since`` (their :func:`change_time` is later), oldest
        change first, at most ``limit``; plus those of ``watch`` (run ids) that are no longer
        ``running`` -- a run marked ``crashed`` gets its last heartbeat as its end, which may
        be before ``since``. ``since=None`` gives only the ``watch`` part.

        Live views poll this with the latest change time they saw (:meth:`last_change`
        before their first read). A writer whose clock runs behind the reader's may be seen
        late; runs sharing one change time at the edge may come twice.
        """
        self.reap_dead_runs()
        runs = self._list_runs(RunQuery())
        changed = [
            r for r in runs if since is not None and (t := change_time(r)) is not None and t > since
        ]
        changed.sort(key=lambda r: (change_time(r) or 0.0, r.id))
        changed = changed[: max(limit, 0)]
        seen = {r.id for r in changed}
        wanted = set(watch)
        ended = [r for r in runs if r.id in wanted and r.id not in seen and r.status != "running"]
        return changed + ended

    def last_change(self) -> float | None:
        """The latest :func:`change_time` of any run (None without runs): the ``since`` a
        live view starts from before it reads the runs it shows."""
        times = [t for r in self._list_runs(RunQuery()) if (t := change_time(r)) is not None]
        return max(times) if times else None

    def bulk_params(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """``{run_id: flattened params}`` for many runs; backends read them in one query."""
        return {rid: self.params(rid) for rid in run_ids}

    def bulk_evaluations(self, run_ids: Sequence[str]) -> dict[str, list[Evaluation]]:
        """``{run_id: evaluations, oldest first}`` for many runs; backends read them at once."""
        return {rid: self.evaluations(rid) for rid in run_ids}

    def latest_evaluations(
        self,
        benchmark: str,
        *,
        experiment: str | None = None,
        statuses: Sequence[str] = ("completed",),
    ) -> dict[str, Evaluation]:
        """``{run_id: latest evaluation on benchmark}`` of every run with one of ``statuses``
        (of ``experiment`` when given); backends read them in one query (leaderboards)."""
        runs = self.list_runs(experiment=experiment, statuses=tuple(statuses))
        out: dict[str, Evaluation] = {}
        for rid, evs in self.bulk_evaluations([r.id for r in runs]).items():
            ev = latest_by_benchmark(evs).get(benchmark)
            if ev is not None:
                out[rid] = ev
        return out

    def evaluation_samples(self, run_id: str, benchmark: str) -> list[Sample]:
        """Per-sample results of a run's latest evaluation on ``benchmark``."""
        evals = self.evaluations(run_id, benchmark)
        if not evals:
            have = sorted({e.benchmark for e in self.evaluations(run_id)})
            raise RunNotFoundError(
                f"Run {run_id} has no evaluation on {benchmark!r}; "
                f"its evaluations: {', '.join(have) if have else 'none'}.",
                parameter="benchmark",
                value=benchmark,
            )
        return self.samples(latest_by_benchmark(evals)[benchmark].id)

    def now(self) -> float:
        """The Store's clock, in epoch seconds: the database server's where there is one
        (PostgreSQL), else this machine's (SQLite: one machine writes). Heartbeats are
        written with it and their ages measured with it, so a machine whose clock is off
        makes no live run look dead (nor a dead one alive)."""
        return time.time()

    def reap_dead_runs(self, force: bool = False) -> list[str]:
        """Mark ``running`` runs whose process is gone as ``crashed``; return their ids.

        Called by every run read, at most once a second per Store unless ``force``.
        """
        with self._reap_lock:
            local = time.monotonic()
            if not force and local - self._last_reap < 1.0:
                return []
            self._last_reap = local
        processes = self._running_processes()
        if not processes:
            return []
        now = self.now()
        dead = [p.run_id for p in processes if not self.liveness.is_alive(p, now)]
        if dead:
            try:
                self._mark_crashed(dead, now)
            except (StoreError, WorkspaceError) as e:
                # A reader without write access still reads; the next writer marks them.
                logger.debug("could not mark crashed runs %s: %s", dead, e)
                return []
        return dead

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- claiming planned runs
    # Several runners (`trialbook run` of one suite, on one machine or on many sharing one
    # database) must together run each planned (config hash, seed) once: a runner queues a
    # planned run only if no other runner got there first, and starts a queued run only after
    # claiming it. Both are single atomic steps in the database, never file locks.
    @abc.abstractmethod
    def queue_run(self, run: NewRun, *, known: Iterable[str] = ()) -> tuple[RunRecord, bool]:
        """Create ``run`` unless another run with its config hash and seed is in the way.

        ``known`` are the ids of the runs with that config hash and seed that the caller saw
        when it decided to create this one (say, a completed run ``--rerun`` runs again). Any
        other run with that pair is in the way: another runner queued, claimed or finished it
        meanwhile. The check and the insert are one atomic step: of several processes queueing
        the same pair at once, on one machine or several sharing the database, exactly one
        creates a run and the others get that run back.

        Returns:
            ``(record, True)`` for the new run, or ``(existing, False)`` with the run in the
            way: the oldest queued one, else a running one, else the newest.
        """

    @abc.abstractmethod
    def claim_queued_run(
        self,
        run_id: str,
        *,
        host: str,
        pid: int,
        pid_started_at: float | None,
        at: float,
        keep_queued: bool = False,
    ) -> bool:
        """Mark the run ``running`` on behalf of process ``pid`` on ``host``, if it is still
        ``queued`` and no one has claimed it; True when this call did.

        One conditional update: of several processes claiming one run at once, exactly one
        gets True. The claim sets host, pid, pid_started_at and heartbeat_at (``at``), so
        crash detection covers a claimed run whose process dies before it starts the run;
        ``started_at`` is left for the process that runs it.

        With ``keep_queued`` the run stays ``queued`` but is claimed all the same (host and
        pid set): a runner whose backend queues the run's process (a Slurm job waiting for
        a node) holds it this way, so no other runner claims it, while ``ls`` shows it
        queued; the process moves it to ``running`` when it starts
        (``tracking._attach.claim_run``). A queued run with a pid is claimed.

        Raises:
            RunNotFoundError: no run has this id.
        """

    # A runner that claimed runs with ``keep_queued`` beats them (beat_queued_claims) until
    # its backend has their jobs (hold_jobs); one that dies before that leaves them claimed
    # and queued with no job, which a later runner releases (release_queued_claim) and claims.
    @abc.abstractmethod
    def queued_claims(self, run_ids: Sequence[str]) -> dict[str, RunningProcess]:
        """The processes that claimed these runs and keep them ``queued``
        (:meth:`claim_queued_run` with ``keep_queued``), by run id: host, pid, the pid's
        start time and the claim's heartbeat (:meth:`beat_queued_claims`). Runs that are not
        queued, or that no one claimed, are left out; so are unknown ids."""

    @abc.abstractmethod
    def beat_queued_claims(self, *, host: str, pid: int, pid_started_at: float | None) -> int:
        """Refresh the heartbeat (:meth:`now`) of every run that process ``pid`` on ``host``,
        started at ``pid_started_at``, claimed and that is still ``queued`` (it waits in that
        runner's backend); how many. The start time keeps a process that reuses the pid of a
        dead claimer from beating for it. A runner on another host that stops beating counts
        as gone after the grace (:meth:`claimer_alive`)."""

    @abc.abstractmethod
    def release_queued_claim(
        self,
        run_id: str,
        *,
        host: str,
        pid: int,
        pid_started_at: float | None,
        heartbeat_at: float | None,
    ) -> bool:
        """Undo the claim of a ``queued`` run (host, pid, pid_started_at and heartbeat_at
        back to NULL) if it is still exactly the claim the caller read from
        :meth:`queued_claims` (same process, same heartbeat); True when this call did.

        For a runner that claimed the run with ``keep_queued`` and died before its backend
        had the run's job: the caller decides first that the claimer is gone
        (:meth:`claimer_alive`) and that the run has no job (no :meth:`job_holders` row),
        then claims the released run with :meth:`claim_queued_run` like any other, so of
        several runners waiting for it exactly one runs it. One conditional update: a release
        made after another runner claimed the run anew, after the run started, or after the
        claimer beat, changes nothing and returns False.

        Raises:
            RunNotFoundError: no run has this id.
        """

    def claimer_alive(self, claim: RunningProcess) -> bool:
        """The process behind a claim (:meth:`queued_claims`) lives by the rule runs live by
        (:class:`LivenessPolicy`: the pid and its start time on this host, the heartbeat's
        age by :meth:`now` on another)."""
        return self.liveness.is_alive(claim, self.now())

    # ----------------------------------------------------------------- following jobs
    # A run whose process is a job in a queueing backend (Slurm) is followed by one runner:
    # the one that submitted the job, or a later one that adopted it after the first let go
    # (--detach) or died. The holder is a row of its own (the run's row names the job's
    # process once it starts); a later runner takes it over in one conditional update.
    @abc.abstractmethod
    def hold_jobs(
        self,
        run_ids: Sequence[str],
        *,
        host: str,
        pid: int,
        pid_started_at: float | None,
        detached: bool = False,
    ) -> None:
        """Record process ``pid`` on ``host`` as the holder of these runs' jobs (it submitted
        them), with a heartbeat of :meth:`now`; ``detached`` records that it lets them go
        (they run on unfollowed until a later runner adopts them). Replaces an earlier
        holder.

        Raises:
            RunNotFoundError: a run id is unknown.
        """

    @abc.abstractmethod
    def beat_jobs(self, *, host: str, pid: int) -> int:
        """Refresh the heartbeat (:meth:`now`) of every job process ``pid`` on ``host``
        holds and has not let go; how many."""

    @abc.abstractmethod
    def job_holders(self, run_ids: Sequence[str]) -> dict[str, JobHolder]:
        """The holders of these runs' jobs, by run id (runs without one are left out)."""

    @abc.abstractmethod
    def adopt_job(
        self,
        run_id: str,
        *,
        holder: JobHolder | None,
        host: str,
        pid: int,
        pid_started_at: float | None,
    ) -> bool:
        """Make process ``pid`` on ``host`` the holder of the run's job in place of
        ``holder`` (what :meth:`job_holders` gave; None: the run had no holder row, a job
        submitted before schema tb0005), if that is still the holder, unchanged (same
        process, same heartbeat, same ``detached``); True when this call did.

        One conditional update: of several runners adopting one job at once, exactly one
        gets True. The caller decides first that ``holder`` let the job go or is gone
        (:meth:`holder_alive`); a holder that beat meanwhile makes the adoption fail.

        Raises:
            RunNotFoundError: no run has this id.
        """

    def holder_alive(self, holder: JobHolder) -> bool:
        """``holder`` still follows its job: it has not let it go, and its process lives by
        the rule runs live by (:class:`LivenessPolicy`: the pid on this host, the heartbeat's
        age by :meth:`now` on another)."""
        return not holder.detached and self.liveness.is_alive(holder.process(), self.now())
