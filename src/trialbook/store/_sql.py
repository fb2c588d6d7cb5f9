"""The Store on any SQLAlchemy database (SQLite embedded by default, PostgreSQL)."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import numbers
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    case,
    exists,
    func,
    literal,
    nulls_last,
    select,
    text,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import StaticPool

from trialbook._types import RUN_STATUSES, RunStatus
from trialbook.errors import (
    ConfigError,
    NotATrialbookDatabase,
    RunNotFoundError,
    StoreError,
    WorkspaceError,
)
from trialbook.store import _dialect
from trialbook.store import _schema as s
from trialbook.store._base import UPDATABLE_RUN_FIELDS, KeyPage, MetricColumns, Store
from trialbook.store._buckets import (
    MetricBuckets,
    batch_summary,
    block_rows,
    bucket_points,
    bucket_width,
    buckets_from_blocks,
    check_buckets,
    point_blocks,
)
from trialbook.store._liveness import JobHolder, LivenessPolicy, RunningProcess
from trialbook.store._paths import WorkspacePaths
from trialbook.store._query import ORDER_COLUMNS
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
)

if TYPE_CHECKING:
    from trialbook.store._stream import MetricStream

__all__ = [
    "SQLStore",
    "check_status",
    "decode_param",
    "encode_param",
    "evaluation_from_row",
    "in_chunks",
    "like_escape",
    "no_run",
]

T = TypeVar("T")

_OPS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": lambda a, b: a == b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_RETRY_SECONDS = 300.0
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def check_int64(field: str, value: Any) -> None:
    """The last line of defence before the driver: an integer the database cannot hold is
    one sentence naming the field, not the driver's OverflowError."""
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not _INT64_MIN <= value <= _INT64_MAX
    ):
        bits = value.bit_length()
        shown = str(value) if bits < 200 else f"a {bits}-bit integer"
        raise StoreError(
            f"{field} = {shown} does not fit in 64 bits, the largest integer the database "
            f"holds; use a value between {_INT64_MIN} and {_INT64_MAX}."
        )


def encode_param(value: Any) -> tuple[str, float | None]:
    """A param as (JSON text, number or None). Booleans are not numbers here."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value), None
    if isinstance(value, int | float):
        f = float(value)
        return json.dumps(value), (None if math.isnan(f) else f)
    if isinstance(value, str):
        return json.dumps(value), None
    return json.dumps(value, sort_keys=True, default=str), None


def decode_param(text_value: str) -> Any:
    try:
        return json.loads(text_value)
    except ValueError:
        return text_value


def _nan(v: float | None) -> float:
    return math.nan if v is None else v


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str, allow_nan=True)


#: Ids per ``IN (...)`` list: SQLite limits the bound parameters of one statement.
IN_CHUNK = 500


def in_chunks(ids: Sequence[str], size: int = IN_CHUNK) -> Iterator[list[str]]:
    """``ids`` in lists of at most ``size``, for ``column IN (...)`` reads of many runs."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def like_escape(text: str) -> str:
    """``text`` with LIKE's wildcards (``%``, ``_``) and the escape character ``\\`` escaped,
    for ``column.like(..., escape="\\")``: matched literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_status(status: object, *, parameter: str = "status") -> None:
    """Refuse a run status that is not one of ``RUN_STATUSES``.

    Raises:
        ConfigError: naming the status and the known ones.
    """
    if status not in RUN_STATUSES:
        raise ConfigError(
            f"Unknown run status {status!r}; use one of {', '.join(RUN_STATUSES)}.",
            parameter=parameter,
            value=status,
        )


def no_run(run_id: str) -> RunNotFoundError:
    """The error for a run id the Store does not hold."""
    return RunNotFoundError(f"No run with id {run_id!r}.", parameter="run_id", value=run_id)


class SQLStore(Store):
    """A :class:`Store` on a SQLAlchemy engine.

    Build one with :func:`trialbook.store.connect` (which checks the schema); the
    constructor itself touches nothing.
    """

    def __init__(
        self,
        engine: Engine,
        url: str,
        liveness: LivenessPolicy | None = None,
        *,
        root: str | os.PathLike[str] | None = None,
        read_only: str | None = None,
        release: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(liveness)
        self.engine = engine
        # Gives the engine back at close (see _connect: engines are shared by the Stores of
        # one database in a process); by default the engine is this Store's own.
        self._release = release or engine.dispose
        self.url = url
        #: Run folders inside this root are stored relative to it (see _paths).
        self.paths = WorkspacePaths(root)
        #: Why this Store refuses writes (a read-only workspace), or None.
        self.read_only = read_only
        #: Set by connect when the SQLite file was found clean at open: close() then records
        #: the file as it leaves it as clean (see _integrity), sparing the next open a check.
        self.clean_identity: str | None = None
        self._sqlite_file = _dialect.sqlite_path(url)
        self._writer_engine = engine.execution_options(**{_dialect.WRITE: True})
        if engine.dialect.name != "sqlite":
            # PostgreSQL locks rows, not the database: a writer that is behind (points
            # logged faster than one flush interval) writes them in one transaction, one
            # commit and WAL flush, instead of one per 50,000 points.
            self.batch_points = 500_000
        # Immutable once assigned, so safe to cache for the life of the Store.
        self._run_nums: dict[str, int] = {}
        self._key_id_cache: dict[str, int] = {}
        # (run id, key) -> points this Store has seen the metric hold, which numbers the next
        # point's block (see _buckets.block_rows). A stale count (another process logged to
        # the same run) only makes blocks that hold more points, never wrong ones.
        self._point_counts: dict[tuple[str, str], int] = {}
        # In-memory SQLite is one connection shared by every thread (StaticPool); two threads
        # must not interleave transactions on it, so its use is serialised.
        self._serial: AbstractContextManager[Any] = (
            threading.RLock() if isinstance(engine.pool, StaticPool) else nullcontext()
        )

    # ----------------------------------------------------------------- plumbing
    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self._serial, self.engine.connect() as conn:
                yield conn
        except sa_exc.SQLAlchemyError as e:
            raise self._translate(e) from e

    def _translate(self, error: sa_exc.SQLAlchemyError) -> Exception:
        out = _dialect.translate(error, self.url)
        if isinstance(out, NotATrialbookDatabase):
            self.clean_identity = None  # found damaged: never record it as clean at close
        return out

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction, retrying lock errors with backoff."""
        if self.read_only is not None:
            raise WorkspaceError(self.read_only)
        deadline = time.monotonic() + _RETRY_SECONDS
        delay = 0.01
        while True:
            try:
                with self._serial, self._writer_engine.begin() as conn:
                    result = fn(conn)
                if self.clean_identity is not None:
                    self._stamp_clean()
                return result
            except sa_exc.SQLAlchemyError as e:
                if _dialect.is_transient(e) and time.monotonic() < deadline:
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 1.0)
                    continue
                raise self._translate(e) from e

    def _stamp_clean(self) -> None:
        """Record the file as this Store leaves it as clean (it was found clean at open and
        every transaction since succeeded), so that the next open need not check it; after a
        checkpoint moved the WAL into the file this is what spares the next open a check."""
        path = self._sqlite_file
        if path is not None:
            from trialbook.store._integrity import record_clean

            record_clean(path)

    def close(self) -> None:
        self._release()
        if self.clean_identity is not None:
            self.clean_identity = None
            self._stamp_clean()

    # ----------------------------------------------------------------- experiments
    def ensure_experiment(
        self, name: str, description: str | None = None, hypothesis: str | None = None
    ) -> Experiment:
        return self._write(lambda c: self._ensure_experiment(c, name, description, hypothesis))

    def _ensure_experiment(
        self, conn: Connection, name: str, description: str | None, hypothesis: str | None
    ) -> Experiment:
        t = s.experiments
        conn.execute(
            _dialect.insert_ignore(conn, t, ["name"]).values(
                name=name, description=description, hypothesis=hypothesis, created_at=time.time()
            )
        )
        if description is not None:
            conn.execute(
                update(t)
                .where(t.c.name == name, t.c.description.is_(None))
                .values(description=description)
            )
        if hypothesis is not None:
            conn.execute(
                update(t)
                .where(t.c.name == name, t.c.hypothesis.is_(None))
                .values(hypothesis=hypothesis)
            )
        row = conn.execute(select(t).where(t.c.name == name)).one()
        return Experiment(row.id, row.name, row.description, row.hypothesis, row.created_at)

    def list_experiments(self) -> list[Experiment]:
        t = s.experiments
        with self._read() as conn:
            rows = conn.execute(select(t).order_by(t.c.name)).all()
        return [Experiment(r.id, r.name, r.description, r.hypothesis, r.created_at) for r in rows]

    # ----------------------------------------------------------------- runs (write)
    def create_run(self, run: NewRun) -> RunRecord:
        check_status(run.status)

        def tx(conn: Connection) -> None:
            exp = self._ensure_experiment(conn, run.experiment, None, None)
            conn.execute(
                s.runs.insert().values(
                    id=run.id,
                    experiment_id=exp.id,
                    name=run.name,
                    status=run.status,
                    config=_dumps(dict(run.config)),
                    config_hash=run.config_hash,
                    group_key=run.group_key,
                    seed=run.seed,
                    notes=run.notes,
                    tags=json.dumps(list(run.tags)),
                    host=run.host,
                    pid=run.pid,
                    pid_started_at=run.pid_started_at,
                    heartbeat_at=run.started_at,
                    started_at=run.started_at,
                    git_commit=run.git_commit,
                    git_branch=run.git_branch,
                    git_dirty=run.git_dirty,
                    folder=self.paths.to_stored(run.folder),
                )
            )
            if run.tags:
                conn.execute(
                    s.run_tags.insert(), [{"run_id": run.id, "tag": t} for t in set(run.tags)]
                )
            if param_rows:
                conn.execute(s.params.insert(), param_rows)

        check_int64("seed", run.seed)
        check_int64("pid", run.pid)
        param_rows = _param_rows(run.id, run.params)
        self._write(tx)
        return self._get_by_id(run.id)

    def update_run(self, run_id: str, **fields: Any) -> None:
        unknown = set(fields) - UPDATABLE_RUN_FIELDS
        if unknown:
            raise TypeError(f"update_run cannot change {sorted(unknown)}")
        if "status" in fields:
            check_status(fields["status"])
        values = dict(fields)
        for name, value in values.items():
            check_int64(name, value)
        if "folder" in values:
            values["folder"] = self.paths.to_stored(values["folder"])
        tags = values.get("tags")
        if tags is not None:
            values["tags"] = json.dumps(list(tags))

        def tx(conn: Connection) -> None:
            res = conn.execute(update(s.runs).where(s.runs.c.id == run_id).values(**values))
            if res.rowcount == 0:
                raise no_run(run_id)
            if tags is not None:
                conn.execute(s.run_tags.delete().where(s.run_tags.c.run_id == run_id))
                if tags:
                    conn.execute(
                        s.run_tags.insert(), [{"run_id": run_id, "tag": t} for t in set(tags)]
                    )

        self._write(tx)

    def finish_run(
        self,
        run_id: str,
        status: RunStatus,
        ended_at: float,
        duration: float | None,
        error: str | None = None,
    ) -> bool:
        check_status(status)
        r = s.runs

        def tx(conn: Connection) -> bool:
            res = conn.execute(
                update(r)
                .where(r.c.id == run_id, r.c.status.in_(("running", "queued", "crashed")))
                .values(
                    status=status,
                    ended_at=ended_at,
                    duration=duration,
                    error=error,
                    heartbeat_at=ended_at,
                )
            )
            if not res.rowcount:
                self._require_run(conn, run_id)
            return bool(res.rowcount)

        return self._write(tx)

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        if not params:
            return
        rows = _param_rows(run_id, params)

        def tx(conn: Connection) -> None:
            self._require_run(conn, run_id)
            _dialect.upsert(
                conn,
                s.params,
                rows,
                ["run_id", "key"],
                lambda ex: {"value": ex.value, "value_num": ex.value_num},
            )

        self._write(tx)

    def log_metric_columns(self, run_id: str, columns: MetricColumns) -> None:
        # Each key's columns as NumPy arrays once: the summary, the blocks and (PostgreSQL)
        # the COPY payload are computed from them without a Python loop over the points.
        arrays = {k: _column_arrays(k, *c) for k, c in columns.items() if len(c[0])}
        if not arrays:
            return
        summary_rows = [batch_summary(run_id, key, *cols) for key, cols in arrays.items()]
        counts = self._point_counts
        known = {k: counts[run_id, k] for k in arrays if (run_id, k) in counts}

        def tx(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
            num = self._run_num(conn, run_id)
            key_ids = self._key_ids(conn, list(arrays))
            before = dict(known)
            if len(before) < len(arrays):
                missing = [k for k in arrays if k not in known]
                before.update(self._stored_counts(conn, run_id, missing))
            # The hot path: the points go to the driver in one call.
            _dialect.insert_metrics(
                conn, num, [(key_ids[key], *cols) for key, cols in arrays.items()]
            )
            _dialect.executemany(conn, _dialect.summary_upsert_sql(conn), summary_rows)
            by_time = conn.dialect.name != "sqlite"  # see _dialect.block_upsert_sql
            blocks = list(
                itertools.chain.from_iterable(
                    block_rows(num, key_ids[key], before[key], *cols, by_time=by_time)
                    for key, cols in arrays.items()
                )
            )
            _dialect.upsert_blocks(conn, blocks)
            return key_ids, {key: before[key] + len(cols[0]) for key, cols in arrays.items()}

        key_ids, after = self._write(tx)
        # Cache key ids and counts only once committed (see _key_ids).
        self._key_id_cache.update(key_ids)
        if len(counts) > _POINT_COUNTS_KEPT:  # a missing count costs one read, nothing else
            counts.clear()
        for key, n in after.items():
            counts[run_id, key] = n

    def metric_stream(self, run_id: str) -> MetricStream | None:
        """PostgreSQL through psycopg: a :class:`~trialbook.store._stream.MetricStream` (one
        open binary COPY per transaction). Elsewhere None."""
        dialect = self.engine.dialect
        if dialect.name != "postgresql" or dialect.driver != "psycopg":
            return None
        from trialbook.store._stream import MetricStream

        return MetricStream(self, run_id)

    def _stored_counts(self, conn: Connection, run_id: str, keys: list[str]) -> dict[str, int]:
        """How many points each of ``keys`` of a run holds (0 for a new key)."""
        m = s.metric_summary
        found = dict(
            conn.execute(
                select(m.c.key, m.c["count"]).where(m.c.run_id == run_id, m.c.key.in_(keys))
            ).all()
        )
        return {k: int(found.get(k, 0)) for k in keys}

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
        created = time.time()
        check_int64("evaluation n", n)
        sample_rows = [
            {
                "position": i,
                "sample_id": str(smp.sample_id),
                "prediction": smp.prediction,
                "reference": smp.reference,
                "score": None if smp.score is None or smp.score != smp.score else smp.score,
                "correct": smp.correct,
                "extra": _dumps(dict(smp.extra)) if smp.extra else None,
            }
            for i, smp in enumerate(samples)
        ]

        metrics_json = _dumps(dict(metrics))
        count = n if n is not None else (len(sample_rows) or None)

        def tx(conn: Connection) -> int:
            self._require_run(conn, run_id)
            res = conn.execute(
                s.evaluations.insert().values(
                    run_id=run_id,
                    benchmark=benchmark,
                    split=split,
                    metrics=metrics_json,
                    n=count,
                    duration=duration,
                    created_at=created,
                )
            )
            key = res.inserted_primary_key
            assert key is not None
            eval_id = int(key[0])
            if sample_rows:
                for row in sample_rows:
                    row["evaluation_id"] = eval_id
                conn.execute(s.samples.insert(), sample_rows)
            return eval_id

        eval_id = self._write(tx)
        return evaluation_from_row(
            (eval_id, run_id, benchmark, split, metrics_json, count, duration, created)
        )

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
        created = time.time()
        metrics = dict(metrics or {})
        check_int64("checkpoint step", step)
        check_int64("checkpoint size", size)

        def tx(conn: Connection) -> None:
            self._require_run(conn, run_id)
            conn.execute(
                s.checkpoints.insert().values(
                    run_id=run_id,
                    path=self.paths.to_stored(path),
                    step=step,
                    size=size,
                    sha256=sha256,
                    metrics=_dumps(metrics),
                    created_at=created,
                )
            )

        self._write(tx)
        return Checkpoint(run_id, path, step, size, sha256, metrics, created)

    def log_artifact(
        self,
        run_id: str,
        path: str,
        *,
        kind: str | None = None,
        size: int | None = None,
        sha256: str | None = None,
    ) -> Artifact:
        created = time.time()
        check_int64("artifact size", size)

        def tx(conn: Connection) -> None:
            self._require_run(conn, run_id)
            conn.execute(
                s.artifacts.insert().values(
                    run_id=run_id,
                    path=self.paths.to_stored(path),
                    kind=kind,
                    size=size,
                    sha256=sha256,
                    created_at=created,
                )
            )

        self._write(tx)
        return Artifact(run_id, path, kind, size, sha256, created)

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
        d = s.datasets

        def tx(conn: Connection) -> Any:
            self._require_run(conn, run_id)
            cond = [d.c.name == name, d.c.path == path]
            cond.append(d.c.sha256.is_(None) if sha256 is None else d.c.sha256 == sha256)
            row = conn.execute(select(d).where(*cond)).first()
            if row is None:
                conn.execute(
                    _dialect.insert_ignore(conn, d, ["name", "path", "sha256"]).values(
                        name=name,
                        path=path,
                        sha256=sha256,
                        size=size,
                        rows=rows,
                        parent=parent,
                        transform=transform,
                        created_at=time.time(),
                    )
                )
                # Concurrent writers may both insert a NULL-checksum row: take the first.
                row = conn.execute(select(d).where(*cond).order_by(d.c.id).limit(1)).one()
            conn.execute(
                _dialect.insert_ignore(conn, s.run_datasets, ["run_id", "dataset_id"]).values(
                    run_id=run_id, dataset_id=row.id
                )
            )
            return row

        return _dataset(self._write(tx))

    def _run_num(self, conn: Connection, run_id: str) -> int:
        num = self._run_nums.get(run_id)
        if num is None:
            num = conn.execute(select(s.runs.c.num).where(s.runs.c.id == run_id)).scalar()
            if num is None:
                raise no_run(run_id)
            self._run_nums[run_id] = num
        return int(num)

    def _key_ids(self, conn: Connection, keys: list[str]) -> dict[str, int]:
        """Ids of ``keys``, inserting the new ones in ``conn``'s transaction.

        New ids are not cached here: the transaction may still roll back, and a cached id of
        a rolled-back row would send later points to a missing key, or to another process's
        key that reused the id. The caller caches them after the commit.
        """
        cached = self._key_id_cache
        ids = {k: cached[k] for k in keys if k in cached}
        missing = [k for k in keys if k not in cached]
        if missing:
            k = s.metric_keys
            conn.execute(_dialect.insert_ignore(conn, k, ["name"]), [{"name": n} for n in missing])
            for row in conn.execute(select(k.c.id, k.c.name).where(k.c.name.in_(missing))):
                ids[row.name] = row.id
        return ids

    # ----------------------------------------------------------------- runs (read)
    def _record(self, row: Any) -> RunRecord:
        return _run(row, self.paths)

    def _require_run(self, conn: Connection, run_id: str) -> None:
        if conn.execute(select(s.runs.c.id).where(s.runs.c.id == run_id)).first() is None:
            raise no_run(run_id)

    def _run_select(self) -> Any:
        r, e = s.runs, s.experiments
        return select(r, e.c.name.label("experiment_name")).join(e, e.c.id == r.c.experiment_id)

    def _get_by_id(self, run_id: str) -> RunRecord:
        with self._read() as conn:
            row = conn.execute(self._run_select().where(s.runs.c.id == run_id)).first()
        if row is None:
            raise no_run(run_id)
        return self._record(row)

    def _lookup_runs(self, ref: str) -> list[RunRecord]:
        r = s.runs
        with self._read() as conn:
            rows = conn.execute(self._run_select().where(r.c.id == ref)).all()
            if not rows:
                # LIKE with escaping, so '_' in ids is literal.
                escaped = like_escape(ref)
                rows = conn.execute(
                    self._run_select().where(r.c.id.like(escaped + "%", escape="\\")).limit(50)
                ).all()
                if not rows and len(ref) >= 4 and "_" not in ref:
                    # The short id: the random tail shown in folder names and tables.
                    rows = conn.execute(
                        self._run_select()
                        .where(r.c.id.like("%\\_" + escaped, escape="\\"))
                        .limit(50)
                    ).all()
            if not rows:
                rows = conn.execute(
                    self._run_select().where(r.c.name == ref).order_by(r.c.started_at).limit(50)
                ).all()
        return [self._record(row) for row in rows]

    def _filtered(self, stmt: Any, query: RunQuery) -> Any:
        """``stmt`` (a select over runs joined to experiments) narrowed to ``query``'s
        filters; its order, limit and offset are left to the caller."""
        r, e, m, p = s.runs, s.experiments, s.metric_summary, s.params
        if query.experiment is not None:
            stmt = stmt.where(e.c.name == query.experiment)
        if query.name is not None:
            stmt = stmt.where(_name_condition(r.c.name, query.name))
        if query.statuses:
            for status in query.statuses:
                check_status(status, parameter="statuses")
            stmt = stmt.where(r.c.status.in_(query.statuses))
        if query.group_key is not None:
            stmt = stmt.where(r.c.group_key == query.group_key)
        if query.config_hash is not None:
            stmt = stmt.where(r.c.config_hash == query.config_hash)
        if query.seed is not None:
            stmt = stmt.where(r.c.seed == query.seed)
        for tag in query.tags:
            tt = s.run_tags
            stmt = stmt.where(exists().where(tt.c.run_id == r.c.id, tt.c.tag == tag))
        for pc in query.params:
            op = _op(pc.op)
            if isinstance(pc.value, int | float) and not isinstance(pc.value, bool):
                cmp = op(p.c.value_num, float(pc.value))
            elif pc.op in ("=", "==", "!="):
                cmp = op(p.c.value, encode_param(pc.value)[0])
            else:
                raise ConfigError(
                    f"Param condition {pc.key} {pc.op} {pc.value!r} compares text with "
                    f"{pc.op!r}; use = or != for text, or give a number.",
                    parameter="params",
                    value=pc,
                )
            stmt = stmt.where(exists().where(p.c.run_id == r.c.id, p.c.key == pc.key, cmp))
        for mc in query.metrics:
            col = _agg_col(m, mc.agg)
            stmt = stmt.where(
                exists().where(
                    m.c.run_id == r.c.id, m.c.key == mc.key, _op(mc.op)(col, float(mc.value))
                )
            )
        return stmt

    def _list_runs(self, query: RunQuery) -> list[RunRecord]:
        r, e, m = s.runs, s.experiments, s.metric_summary
        stmt = self._filtered(self._run_select(), query)
        order = query.order_by
        if order.startswith("metrics."):
            key = order[len("metrics.") :]
            ms = m.alias("order_summary")
            stmt = stmt.outerjoin(ms, and_(ms.c.run_id == r.c.id, ms.c.key == literal(key)))
            col = _agg_col(ms, query.order_agg)
        elif order in ORDER_COLUMNS:
            col = e.c.name if order == "experiment" else r.c[order]
        else:
            raise ConfigError(
                f"Cannot sort by {order!r}; use metrics.<key> or one of "
                f"{', '.join(sorted(ORDER_COLUMNS))}.",
                parameter="order_by",
                value=order,
            )
        stmt = stmt.order_by(nulls_last(col.desc() if query.descending else col.asc()), r.c.id)
        for name in ("limit", "offset"):
            value = getattr(query, name)
            if value is not None and not 0 <= value < 1 << 62:
                raise ConfigError(
                    f"{name} must be between 0 and 2**62, got {value}.", parameter=name, value=value
                )
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        if query.offset:
            stmt = stmt.offset(query.offset)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        return [self._record(row) for row in rows]

    def count_runs(self, query: RunQuery | None = None) -> int:
        """How many runs match ``query`` (its order, ``limit`` and ``offset`` ignored), counted
        in the database."""
        r, e = s.runs, s.experiments
        query = query or RunQuery()
        self.reap_dead_runs()
        inner = self._filtered(
            select(r.c.num).select_from(r.join(e, e.c.id == r.c.experiment_id)), query
        )
        with self._read() as conn:
            return int(
                conn.execute(select(func.count()).select_from(inner.subquery())).scalar_one()
            )

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
        if kind not in ("params", "metrics"):
            return super().column_keys(kind, limit=limit)  # raises the ConfigError
        r, e = s.runs, s.experiments
        table = s.params if kind == "params" else s.metric_summary
        key = table.c.key
        runs_count = func.count()
        stmt = select(key.label("key"), runs_count.label("n")).select_from(table)
        of_runs: Any = None
        if run_ids is not None:
            ids = list(dict.fromkeys(run_ids))
            if not ids:
                return KeyPage((), 0)
            stmt = stmt.where(table.c.run_id.in_(ids))
            of_runs = literal(len(ids))
        elif experiment is not None:
            stmt = stmt.join(r, r.c.id == table.c.run_id).join(e, e.c.id == r.c.experiment_id)
            stmt = stmt.where(e.c.name == experiment)
            of_runs = (
                select(func.count())
                .select_from(r.join(e, e.c.id == r.c.experiment_id))
                .where(e.c.name == experiment)
                .scalar_subquery()
            )
        else:
            of_runs = select(func.count()).select_from(r).scalar_subquery()
        if search:
            stmt = stmt.where(key.ilike(f"%{like_escape(search)}%", escape="\\"))
        stmt = stmt.group_by(key)
        if varying and kind == "params":
            stmt = stmt.having(
                (func.count(func.distinct(table.c.value)) > 1) | (runs_count < of_runs)
            )
        grouped = stmt.subquery()
        page = (
            select(grouped.c.key).order_by(grouped.c.n.desc(), grouped.c.key).limit(max(limit, 0))
        )
        with self._read() as conn:
            keys = tuple(conn.execute(page).scalars())
            total = int(conn.execute(select(func.count()).select_from(grouped)).scalar_one())
        return KeyPage(keys, total)

    def evaluation_metrics(self, experiment: str | None = None) -> dict[str, list[str]]:
        from trialbook._values import flatten

        ev, r, e = s.evaluations, s.runs, s.experiments
        latest = select(func.max(ev.c.id)).group_by(ev.c.benchmark)
        if experiment is not None:
            latest = (
                latest.join(r, r.c.id == ev.c.run_id)
                .join(e, e.c.id == r.c.experiment_id)
                .where(e.c.name == experiment)
            )
        stmt = select(ev.c.benchmark, ev.c.metrics).where(ev.c.id.in_(latest.scalar_subquery()))
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(ev.c.benchmark)).all()
        return {bench: sorted(flatten(json.loads(text_))) for bench, text_ in rows}

    def run_counts(self, by: Literal["experiment", "status", "tag"]) -> dict[str, int]:
        r, e, t = s.runs, s.experiments, s.run_tags
        if by == "experiment":
            stmt = (
                select(e.c.name, func.count())
                .select_from(r.join(e, e.c.id == r.c.experiment_id))
                .group_by(e.c.name)
            )
        elif by == "status":
            stmt = select(r.c.status, func.count()).group_by(r.c.status)
        elif by == "tag":
            stmt = select(t.c.tag, func.count()).group_by(t.c.tag)
        else:
            return super().run_counts(by)  # raises the ConfigError
        self.reap_dead_runs()
        with self._read() as conn:
            return {str(name): int(n) for name, n in sorted(conn.execute(stmt).all())}

    def changed_runs(
        self, since: float | None, *, watch: Sequence[str] = (), limit: int = 500
    ) -> list[RunRecord]:
        r = s.runs
        self.reap_dead_runs()
        changed: list[RunRecord] = []
        if since is not None:
            when = _change_time_column()
            stmt = (
                self._run_select()
                .where(
                    (r.c.started_at > since) | (r.c.heartbeat_at > since) | (r.c.ended_at > since)
                )
                .order_by(when, r.c.id)
                .limit(max(limit, 0))
            )
            with self._read() as conn:
                changed = [self._record(row) for row in conn.execute(stmt)]
        seen = {run.id for run in changed}
        wanted = [rid for rid in dict.fromkeys(watch) if rid not in seen]
        ended: list[RunRecord] = []
        with self._read() as conn:
            for chunk in in_chunks(wanted):
                stmt = self._run_select().where(r.c.id.in_(chunk), r.c.status != "running")
                ended += [self._record(row) for row in conn.execute(stmt.order_by(r.c.id))]
        return changed + ended

    def last_change(self) -> float | None:
        r = s.runs
        stmt = select(func.max(r.c.started_at), func.max(r.c.heartbeat_at), func.max(r.c.ended_at))
        with self._read() as conn:
            row = conn.execute(stmt).one()
        times = [t for t in row if t is not None]
        return max(times) if times else None

    def _running_processes(self) -> list[RunningProcess]:
        r = s.runs
        with self._read() as conn:
            rows = conn.execute(
                select(
                    r.c.id, r.c.host, r.c.pid, r.c.pid_started_at, r.c.heartbeat_at, r.c.started_at
                ).where(r.c.status == "running")
            ).all()
        return [RunningProcess(*row) for row in rows]

    def _mark_crashed(self, run_ids: Sequence[str], at: float) -> None:
        r = s.runs

        def tx(conn: Connection) -> None:
            conn.execute(
                update(r)
                .where(r.c.id.in_(list(run_ids)), r.c.status == "running")
                .values(
                    status="crashed",
                    ended_at=func.coalesce(r.c.heartbeat_at, at),
                    duration=func.coalesce(r.c.heartbeat_at, at) - r.c.started_at,
                    error="The process stopped without finishing the run (killed or crashed).",
                )
            )

        self._write(tx)

    def params(self, run_id: str) -> dict[str, Any]:
        p = s.params
        with self._read() as conn:
            rows = conn.execute(
                select(p.c.key, p.c.value).where(p.c.run_id == run_id).order_by(p.c.key)
            ).all()
        return {k: decode_param(v) for k, v in rows}

    def metric_history(self, run_id: str, key: str) -> MetricHistory:
        r, k = s.runs, s.metric_keys
        with self._read() as conn:
            num = conn.execute(select(r.c.num).where(r.c.id == run_id)).scalar()
            key_id = conn.execute(select(k.c.id).where(k.c.name == key)).scalar()
            rows = (
                _dialect.fetchall(conn, _dialect.history_sql(conn), (num, key_id))
                if num is not None and key_id is not None
                else []
            )
        return _history(run_id, key, rows)

    def metric_history_after(self, run_id: str, key: str, after_step: int) -> MetricHistory:
        r, k = s.runs, s.metric_keys
        with self._read() as conn:
            num = conn.execute(select(r.c.num).where(r.c.id == run_id)).scalar()
            key_id = conn.execute(select(k.c.id).where(k.c.name == key)).scalar()
            sql = _dialect.bucket_sql(conn)["rows"]  # the points from a step on
            rows = (
                _dialect.fetchall(conn, sql, (num, key_id, after_step + 1))
                if num is not None and key_id is not None and after_step < 2**63 - 1
                else []
            )
        return _history(run_id, key, rows)

    #: A history of at most ``max(BUCKETS_READ_WHOLE, 8 * buckets)`` points is read whole
    #: and reduced in Python; a longer one is reduced in the database (see
    #: ``_dialect.bucket_reduce``). On SQLite reading a point costs ~0.7 µs and a bucket's two
    #: statements ~4.5 µs, so past 8 points per bucket the database wins.
    BUCKETS_READ_WHOLE = 1000

    def metric_buckets(
        self, run_id: str, key: str, buckets: int, *, after_step: int | None = None
    ) -> MetricBuckets:
        check_buckets(buckets)
        empty = MetricBuckets(run_id, key, (), (), (), (), (), (), 0, None, None)
        with self._read() as conn:
            q = _dialect.bucket_sql(conn)
            found = _dialect.fetchall(conn, q["ids"], (run_id, key))
            if not found:
                return empty
            num, key_id, count = found[0]
            first = _dialect.fetchall(conn, q["first"], (num, key_id, -(2**63)))
            if not first:
                return empty
            final = _dialect.fetchall(conn, q["final"], (num, key_id))[0]
            first_time, hi, start = first[0][2], final[0], first[0][0]
            if after_step is not None:
                first = _dialect.fetchall(conn, q["first"], (num, key_id, after_step + 1))
                if not first:
                    return MetricBuckets(run_id, key, (), (), (), (), (), (), 0, first_time, hi)
            lo = first[0][0]
            if count is None or count <= max(self.BUCKETS_READ_WHOLE, 8 * buckets):
                rows = _dialect.fetchall(conn, q["rows"], (num, key_id, lo))
                return bucket_points(
                    run_id, key, rows, buckets, first_time=first_time, last_step=hi
                )
            from_blocks = _blocks_reduce(
                conn, run_id, key, (num, key_id), count, lo, buckets, (first_time, hi, start)
            )
            if from_blocks is not None:
                return from_blocks
            width = bucket_width(lo, hi, buckets)
            n = (hi - lo) // width + 1
            reduced = _dialect.bucket_reduce(conn, num, key_id, lo, width, n)
        if not reduced:
            return MetricBuckets(run_id, key, (), (), (), (), (), (), 0, first_time, hi)
        mins, maxs, counts, steps, values, times = zip(*reduced, strict=True)
        return MetricBuckets(
            run_id,
            key,
            steps,
            tuple(math.nan if v is None else v for v in values),
            times,
            tuple(math.nan if v is None else v for v in mins),
            tuple(math.nan if v is None else v for v in maxs),
            counts,
            sum(counts),
            first_time,
            hi,
        )

    def metric_decimated(self, run_id: str, key: str, buckets: int) -> MetricHistory:
        check_buckets(buckets)
        with self._read() as conn:
            q = _dialect.bucket_sql(conn)
            found = _dialect.fetchall(conn, q["ids"], (run_id, key))
            if not found:
                return MetricHistory(run_id, key, (), (), ())
            num, key_id, count = found[0]
            # A short history costs less read whole (metric_buckets) than seeked bucket by
            # bucket: on SQLite a seek costs ~9 us, reading a point ~0.5-1 us.
            rows: list[tuple[Any, ...]] | None = None
            if count is not None and count > max(self.BUCKETS_READ_WHOLE, 10 * buckets):
                first = _dialect.fetchall(conn, q["first"], (num, key_id, -(2**63)))
                if not first:
                    return MetricHistory(run_id, key, (), (), ())
                lo = first[0][0]
                hi = _dialect.fetchall(conn, q["final"], (num, key_id))[0][0]
                b = _blocks_reduce(
                    conn, run_id, key, (num, key_id), count, lo, buckets, (first[0][2], hi, lo)
                )
                if b is not None:
                    return MetricHistory(run_id, key, b.steps, b.values, b.times)
                width = bucket_width(lo, hi, buckets)
                rows = _dialect.bucket_last_points(
                    conn, num, key_id, lo, width, (hi - lo) // width + 1
                )
        if rows is None:
            return super().metric_decimated(run_id, key, buckets)
        if not rows:
            return MetricHistory(run_id, key, (), (), ())
        steps, values, times = zip(*rows, strict=True)
        return MetricHistory(
            run_id, key, steps, tuple(math.nan if v is None else v for v in values), times
        )

    def metric_summaries(
        self, run_ids: Sequence[str], keys: Sequence[str] | None = None
    ) -> dict[str, dict[str, MetricSummary]]:
        m = s.metric_summary
        out: dict[str, dict[str, MetricSummary]] = {rid: {} for rid in run_ids}
        ids = list(run_ids)
        with self._read() as conn:
            for chunk in in_chunks(ids):
                stmt = select(m).where(m.c.run_id.in_(chunk))
                if keys is not None:
                    stmt = stmt.where(m.c.key.in_(list(keys)))
                for row in conn.execute(stmt):
                    out[row.run_id][row.key] = MetricSummary(
                        row.run_id,
                        row.key,
                        _nan(row.last),
                        row.last_step,
                        row.min,
                        row.min_step,
                        row.max,
                        row.max_step,
                        row._mapping["count"],
                    )
        return out

    def evaluations(self, run_id: str, benchmark: str | None = None) -> list[Evaluation]:
        ev = s.evaluations
        stmt = select(*_evaluation_columns()).where(ev.c.run_id == run_id)
        if benchmark is not None:
            stmt = stmt.where(ev.c.benchmark == benchmark)
        with self._read() as conn:
            rows = conn.execute(stmt.order_by(ev.c.created_at, ev.c.id)).all()
        return [evaluation_from_row(row) for row in rows]

    def bulk_params(self, run_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        p = s.params
        out: dict[str, dict[str, Any]] = {rid: {} for rid in run_ids}
        ids = list(out)
        with self._read() as conn:
            for chunk in in_chunks(ids):
                stmt = (
                    select(p.c.run_id, p.c.key, p.c.value)
                    .where(p.c.run_id.in_(chunk))
                    .order_by(p.c.run_id, p.c.key)
                )
                for run_id, key, value in conn.execute(stmt):
                    out[run_id][key] = decode_param(value)
        return out

    def bulk_evaluations(self, run_ids: Sequence[str]) -> dict[str, list[Evaluation]]:
        ev = s.evaluations
        out: dict[str, list[Evaluation]] = {rid: [] for rid in run_ids}
        ids = list(out)
        with self._read() as conn:
            for chunk in in_chunks(ids):
                stmt = (
                    select(*_evaluation_columns())
                    .where(ev.c.run_id.in_(chunk))
                    .order_by(ev.c.created_at, ev.c.id)
                )
                for row in conn.execute(stmt):
                    out[row.run_id].append(evaluation_from_row(row))
        return out

    def latest_evaluations(
        self,
        benchmark: str,
        *,
        experiment: str | None = None,
        statuses: Sequence[str] = ("completed",),
    ) -> dict[str, Evaluation]:
        ev, r, e = s.evaluations, s.runs, s.experiments
        self.reap_dead_runs()
        stmt = (
            select(*_evaluation_columns())
            .join(r, r.c.id == ev.c.run_id)
            .where(ev.c.benchmark == benchmark, r.c.status.in_(list(statuses)))
            .order_by(ev.c.created_at, ev.c.id)
        )
        if experiment is not None:
            stmt = stmt.join(e, e.c.id == r.c.experiment_id).where(e.c.name == experiment)
        out: dict[str, Evaluation] = {}
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        for row in rows:
            out[row[1]] = evaluation_from_row(row)  # oldest first: the last one wins
        return out

    def samples(self, evaluation_id: int) -> list[Sample]:
        sm = s.samples
        with self._read() as conn:
            rows = conn.execute(
                select(sm).where(sm.c.evaluation_id == evaluation_id).order_by(sm.c.position)
            ).all()
        return [
            Sample(
                row.sample_id,
                row.prediction,
                row.reference,
                row.score,
                row.correct,
                json.loads(row.extra) if row.extra else {},
            )
            for row in rows
        ]

    def checkpoints(self, run_id: str) -> list[Checkpoint]:
        c = s.checkpoints
        with self._read() as conn:
            rows = conn.execute(
                select(c).where(c.c.run_id == run_id).order_by(c.c.created_at, c.c.id)
            ).all()
        return [
            Checkpoint(
                row.run_id,
                self.paths.from_stored(row.path) or row.path,
                row.step,
                row.size,
                row.sha256,
                json.loads(row.metrics),
                row.created_at,
            )
            for row in rows
        ]

    def artifacts(self, run_id: str) -> list[Artifact]:
        a = s.artifacts
        with self._read() as conn:
            rows = conn.execute(
                select(a).where(a.c.run_id == run_id).order_by(a.c.created_at, a.c.id)
            ).all()
        return [
            Artifact(
                row.run_id,
                self.paths.from_stored(row.path) or row.path,
                row.kind,
                row.size,
                row.sha256,
                row.created_at,
            )
            for row in rows
        ]

    def datasets(self, run_id: str) -> list[Dataset]:
        d, rd = s.datasets, s.run_datasets
        with self._read() as conn:
            rows = conn.execute(
                select(d)
                .join(rd, rd.c.dataset_id == d.c.id)
                .where(rd.c.run_id == run_id)
                .order_by(d.c.id)
            ).all()
        return [_dataset(row) for row in rows]

    def stats(self) -> StoreStats:
        r, e = s.runs, s.experiments
        with self._read() as conn:
            by_status: dict[str, int] = dict(
                conn.execute(select(r.c.status, func.count()).group_by(r.c.status)).all()
            )
            by_exp: dict[str, int] = dict(
                conn.execute(
                    select(e.c.name, func.count(r.c.id))
                    .select_from(e.outerjoin(r, r.c.experiment_id == e.c.id))
                    .group_by(e.c.name)
                    .order_by(e.c.name)
                ).all()
            )
            points = conn.execute(select(func.count()).select_from(s.metrics)).scalar_one()
            n_eval = conn.execute(select(func.count()).select_from(s.evaluations)).scalar_one()
            n_samples = conn.execute(select(func.count()).select_from(s.samples)).scalar_one()
            size = _dialect.database_bytes(conn, self.url)
        return StoreStats(
            runs_by_status={k: int(v) for k, v in by_status.items()},
            runs_by_experiment={k: int(v) for k, v in by_exp.items()},
            metric_points=int(points),
            evaluations=int(n_eval),
            samples=int(n_samples),
            database_bytes=size,
            url=_dialect.safe_url(self.url),
        )

    # ----------------------------------------------------------------- claiming planned runs
    def queue_run(self, run: NewRun, *, known: Iterable[str] = ()) -> tuple[RunRecord, bool]:
        if run.seed is not None and not -(2**63) <= run.seed < 2**63:
            # The lookup below would hand the driver an integer it cannot bind.
            raise ConfigError(
                f"Seed {run.seed} does not fit in 64 bits; use a seed from 0 to 4294967295."
            )
        ignore = set(known)
        r = s.runs

        def tx(conn: Connection) -> tuple[str, RunRecord | None]:
            if conn.dialect.name == "postgresql":
                # Under READ COMMITTED two transactions could both find nothing and both
                # insert; this lock, held until commit, makes check and insert one step per
                # (config hash, seed) across every machine. SQLite needs none: a write
                # transaction (BEGIN IMMEDIATE) already excludes every other writer.
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": _pair_lock_key(run.config_hash, run.seed)},
                )
            same_seed = r.c.seed.is_(None) if run.seed is None else r.c.seed == run.seed
            rows = conn.execute(
                select(r.c.id, r.c.status)
                .where(r.c.config_hash == run.config_hash, same_seed)
                .order_by(r.c.id)
            ).all()
            others = [(row.id, row.status) for row in rows if row.id not in ignore]
            if others:
                return _in_the_way(others), None
            # create_run's own code, inside this transaction.
            return run.id, _InTransaction(self, conn).create_run(run)

        run_id, created = self._write(tx)
        return (created, True) if created is not None else (self._get_by_id(run_id), False)

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
        r = s.runs

        def tx(conn: Connection) -> bool:
            res = conn.execute(
                update(r)
                .where(r.c.id == run_id, r.c.status == "queued", r.c.pid.is_(None))
                .values(
                    status="queued" if keep_queued else "running",
                    host=host,
                    pid=pid,
                    pid_started_at=pid_started_at,
                    heartbeat_at=at,
                )
            )
            if not res.rowcount:
                self._require_run(conn, run_id)
            return bool(res.rowcount)

        return self._write(tx)

    def queued_claims(self, run_ids: Sequence[str]) -> dict[str, RunningProcess]:
        r = s.runs
        found: dict[str, RunningProcess] = {}
        with self._read() as conn:
            for chunk in in_chunks(list(dict.fromkeys(run_ids))):
                rows = conn.execute(
                    select(
                        r.c.id,
                        r.c.host,
                        r.c.pid,
                        r.c.pid_started_at,
                        r.c.heartbeat_at,
                        r.c.started_at,
                    ).where(r.c.id.in_(chunk), r.c.status == "queued", r.c.pid.is_not(None))
                )
                for row in rows:
                    found[row.id] = RunningProcess(*row)
        return found

    def beat_queued_claims(self, *, host: str, pid: int, pid_started_at: float | None) -> int:
        r = s.runs
        check_int64("pid", pid)

        def tx(conn: Connection) -> int:
            done = conn.execute(
                update(r)
                .where(*_queued_claims_of(host, pid, pid_started_at))
                .values(heartbeat_at=self._now_in(conn))
            )
            return int(done.rowcount or 0)

        return self._write(tx)

    def release_queued_claim(
        self,
        run_id: str,
        *,
        host: str,
        pid: int,
        pid_started_at: float | None,
        heartbeat_at: float | None,
    ) -> bool:
        r = s.runs
        check_int64("pid", pid)

        def tx(conn: Connection) -> bool:
            res = conn.execute(
                update(r)
                .where(
                    r.c.id == run_id,
                    *_queued_claims_of(host, pid, pid_started_at),
                    # NULL-safe: a claim never beaten.
                    r.c.heartbeat_at.is_not_distinct_from(heartbeat_at),
                )
                .values(host=None, pid=None, pid_started_at=None, heartbeat_at=None)
            )
            if not res.rowcount:
                self._require_run(conn, run_id)
            return bool(res.rowcount)

        return self._write(tx)

    # ----------------------------------------------------------------- following jobs
    def now(self) -> float:
        if self.engine.dialect.name != "postgresql":
            return time.time()
        with self._read() as conn:
            return float(conn.execute(_SERVER_NOW).scalar_one())

    def _now_in(self, conn: Connection) -> Any:
        """The Store's clock inside a statement on ``conn`` (see :meth:`now`)."""
        return _SERVER_NOW.scalar_subquery() if conn.dialect.name == "postgresql" else time.time()

    def hold_jobs(
        self,
        run_ids: Sequence[str],
        *,
        host: str,
        pid: int,
        pid_started_at: float | None,
        detached: bool = False,
    ) -> None:
        h = s.job_holders
        check_int64("pid", pid)

        def tx(conn: Connection) -> None:
            for run_id in run_ids:
                self._require_run(conn, run_id)
            now = self._now_in(conn)
            for run_id in run_ids:
                values = {
                    "host": host,
                    "pid": pid,
                    "pid_started_at": pid_started_at,
                    "heartbeat_at": now,
                    "detached": detached,
                }
                done = conn.execute(update(h).where(h.c.run_id == run_id).values(**values))
                if not done.rowcount:
                    conn.execute(h.insert().values(run_id=run_id, **values))

        if run_ids:
            self._write(tx)

    def beat_jobs(self, *, host: str, pid: int) -> int:
        h = s.job_holders

        def tx(conn: Connection) -> int:
            done = conn.execute(
                update(h)
                .where(h.c.host == host, h.c.pid == pid, h.c.detached.is_(False))
                .values(heartbeat_at=self._now_in(conn))
            )
            return int(done.rowcount or 0)

        return self._write(tx)

    def job_holders(self, run_ids: Sequence[str]) -> dict[str, JobHolder]:
        h = s.job_holders
        found: dict[str, JobHolder] = {}
        with self._read() as conn:
            for chunk in in_chunks(list(dict.fromkeys(run_ids))):
                for row in conn.execute(select(h).where(h.c.run_id.in_(chunk))):
                    found[row.run_id] = JobHolder(
                        row.run_id,
                        row.host,
                        row.pid,
                        row.pid_started_at,
                        row.heartbeat_at,
                        bool(row.detached),
                    )
        return found

    def adopt_job(
        self,
        run_id: str,
        *,
        holder: JobHolder | None,
        host: str,
        pid: int,
        pid_started_at: float | None,
    ) -> bool:
        h = s.job_holders
        check_int64("pid", pid)

        def tx(conn: Connection) -> bool:
            self._require_run(conn, run_id)
            values = {
                "host": host,
                "pid": pid,
                "pid_started_at": pid_started_at,
                "heartbeat_at": self._now_in(conn),
                "detached": False,
            }
            if holder is None:  # no row yet: the first insert wins, the others conflict
                stmt = _dialect.insert_ignore(conn, h, ["run_id"]).values(run_id=run_id, **values)
                return conn.execute(stmt.returning(h.c.run_id)).first() is not None
            done = conn.execute(
                update(h)
                .where(
                    h.c.run_id == run_id,
                    h.c.host == holder.host,
                    h.c.pid == holder.pid,
                    h.c.heartbeat_at == holder.heartbeat_at,
                    h.c.detached.is_(holder.detached),
                )
                .values(**values)
            )
            return bool(done.rowcount)

        return self._write(tx)


#: The database server's clock in epoch seconds (PostgreSQL; clock_timestamp() moves within a
#: transaction, unlike now()).
_SERVER_NOW = select(func.extract("epoch", func.clock_timestamp()))


class _InTransaction(SQLStore):
    """The Store of ``store``, with every read and write on ``conn`` inside its open
    transaction: lets :meth:`SQLStore.queue_run` create a run with ``create_run``'s own code
    after its check, in one atomic step."""

    def __init__(self, store: SQLStore, conn: Connection) -> None:
        self.__dict__.update(store.__dict__)
        self._conn = conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        yield self._conn

    def _write(self, fn: Callable[[Connection], T]) -> T:
        return fn(self._conn)


def _pair_lock_key(config_hash: str, seed: int | None) -> int:
    """A signed 64-bit advisory-lock key for one (config hash, seed) pair."""
    digest = hashlib.sha256(f"trialbook-queue\0{config_hash}\0{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _in_the_way(runs: Sequence[tuple[str, str]]) -> str:
    """Of the runs sharing a planned run's (config hash, seed), oldest first: the oldest
    queued one (a runner may still claim it), else a running one, else the newest."""
    for status in ("queued", "running"):
        for run_id, run_status in runs:
            if run_status == status:
                return run_id
    return runs[-1][0]


def _param_rows(run_id: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, value in params.items():
        check_int64(f"param {key!r}", value)
        txt, num = encode_param(value)
        rows.append({"run_id": run_id, "key": key, "value": txt, "value_num": num})
    return rows


#: How many (run, key) point counts a Store keeps for numbering blocks (see log_metric_columns).
_POINT_COUNTS_KEPT = 100_000


def _blocks_reduce(
    conn: Connection,
    run_id: str,
    key: str,
    ids: tuple[int, int],
    count: int,
    lo: int,
    buckets: int,
    ends: tuple[float | None, int, int],
) -> MetricBuckets | None:
    """The buckets of a metric's points from step ``lo`` on, built from its stored blocks
    (:func:`trialbook.store._buckets.buckets_from_blocks`), or None when the blocks cannot
    give them. ``count`` is the metric's point count by its summary; blocks that hold another
    number (a database written before blocks existed, or damaged) are not used. ``ends`` is
    the metric's first time, last step and first step."""
    between = _dialect.bucket_sql(conn)["between"]
    q = _dialect.blocks_sql(conn)

    def points(a: int, b: int) -> list[tuple[Any, ...]]:
        return _dialect.fetchall(conn, between, (*ids, a, b))

    blocks = _dialect.fetchall(conn, q["from"], (*ids, lo))
    whole = lo == ends[2]  # from the first point: every block was read
    stored = sum(b[4] for b in blocks) if whole else _dialect.fetchall(conn, q["count"], ids)[0][0]
    if stored != count:
        return None
    held = [b for b in blocks if b[0] >= lo]
    for b in blocks:
        if b[0] < lo:  # a block that straddles ``lo``: only its points from ``lo`` on
            held.extend(point_blocks(points(lo, b[1])))
    return buckets_from_blocks(
        run_id, key, held, buckets, points=points, first_time=ends[0], last_step=ends[1]
    )


def _column_arrays(
    key: str, steps: Sequence[int], values: Sequence[float], times: Sequence[float]
) -> tuple[Any, Any, Any]:
    """One key's (steps, values, times) as NumPy arrays (int64, float64, float64).

    Raises:
        StoreError: a step is not an integer or does not fit in 64 bits, or a time is missing
            (naming the metric).
        ValueError: the columns differ in length. OverflowError, ValueError, TypeError: a
            value or time is not a number a float holds.
    """
    import numpy as np

    if not len(steps) == len(values) == len(times):
        raise ValueError(f"metric {key!r}: steps, values and times differ in length")
    st = np.asarray(steps)
    if st.dtype != np.int64:  # not plain Python (or NumPy int64) integers: look closer
        if not all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in steps):
            raise StoreError(
                f"metric {key!r}: steps must be integers, got {st.dtype} values; pass whole "
                "numbers (e.g. step=i with i an int)."
            )
        integers = [int(x) for x in steps]
        check_int64(f"metric {key!r} step", min(integers))
        check_int64(f"metric {key!r} step", max(integers))
        st = np.array(integers, dtype=np.int64)
    at = np.asarray(times, dtype=np.float64)
    if np.isnan(at).any():  # a None time converts to NaN; the column holds real times only
        raise StoreError(
            f"metric {key!r}: a point has no time (None or NaN); times are seconds since the "
            "epoch, e.g. time.time()."
        )
    return st, np.asarray(values, dtype=np.float64), at


def _queued_claims_of(
    host: str, pid: int, pid_started_at: float | None
) -> tuple[ColumnElement[bool], ...]:
    """The ``queued`` runs claimed by process ``pid`` on ``host`` started at
    ``pid_started_at`` (NULL-safe: a claimer whose start time was unknown)."""
    r = s.runs
    return (
        r.c.status == "queued",
        r.c.host == host,
        r.c.pid == pid,
        r.c.pid_started_at.is_not_distinct_from(pid_started_at),
    )


def _op(op: str) -> Callable[[Any, Any], ColumnElement[bool]]:
    try:
        return _OPS[op]
    except KeyError:
        raise ConfigError(f"Unknown comparison {op!r}; use one of {', '.join(_OPS)}.") from None


def _agg_col(table: Any, agg: str) -> Any:
    if agg not in ("last", "min", "max"):
        raise ConfigError(f"Unknown metric aggregate {agg!r}; use last, min or max.")
    return table.c[agg]


def _run(row: Any, paths: WorkspacePaths) -> RunRecord:
    return RunRecord(
        id=row.id,
        experiment=row.experiment_name,
        name=row.name,
        status=row.status,
        config=json.loads(row.config),
        config_hash=row.config_hash,
        group_key=row.group_key,
        seed=row.seed,
        notes=row.notes,
        tags=tuple(json.loads(row.tags)) if row.tags else (),
        host=row.host,
        pid=row.pid,
        heartbeat_at=row.heartbeat_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration=row.duration,
        git_commit=row.git_commit,
        git_branch=row.git_branch,
        git_dirty=row.git_dirty,
        folder=paths.from_stored(row.folder),
        error=row.error,
    )


def _evaluation_columns() -> tuple[Any, ...]:
    """The evaluations columns in the order :func:`evaluation_from_row` reads them."""
    ev = s.evaluations
    return (
        ev.c.id,
        ev.c.run_id,
        ev.c.benchmark,
        ev.c.split,
        ev.c.metrics,
        ev.c.n,
        ev.c.duration,
        ev.c.created_at,
    )


def evaluation_from_row(row: Sequence[Any]) -> Evaluation:
    """The one way an :class:`Evaluation` is built from stored values: ``row`` holds
    (id, run_id, benchmark, split, metrics as JSON text, n, duration, created_at), the order
    of :func:`_evaluation_columns`. Read by position: 10,000 rows read by attribute name
    cost more than the query."""
    id_, run_id, benchmark, split, metrics, n, duration, created = row
    return Evaluation(id_, run_id, benchmark, split, json.loads(metrics), n, duration, created)


def _dataset(row: Any) -> Dataset:
    return Dataset(
        row.id,
        row.name,
        row.path,
        row.sha256,
        row.size,
        row.rows,
        row.parent,
        row.transform,
        row.created_at,
    )


def _change_time_column() -> Any:
    """:func:`~trialbook.store._base.change_time` in SQL: the latest of a run's start,
    heartbeat and end (NULLs ignored; -1 when all are NULL)."""
    r = s.runs
    a, b, c = (func.coalesce(x, -1.0) for x in (r.c.started_at, r.c.heartbeat_at, r.c.ended_at))
    # CASE rather than GREATEST/MAX(a, b, c): one spelling for SQLite and PostgreSQL.
    return case((and_(a >= b, a >= c), a), (b >= c, b), else_=c)


def _name_condition(column: Any, pattern: str) -> Any:
    """``column`` equals ``pattern``, or matches it as a shell-style glob (``*``, ``?``),
    ignoring case (ILIKE: SQLite's LIKE ignores ASCII case and PostgreSQL's does not)."""
    if "*" not in pattern and "?" not in pattern:
        return column == pattern
    escaped = like_escape(pattern)
    return column.ilike(escaped.replace("*", "%").replace("?", "_"), escape="\\")


def _history(run_id: str, key: str, rows: Sequence[Any]) -> MetricHistory:
    """A :class:`MetricHistory` from ``(step, value, time)`` rows (NaN is stored as NULL)."""
    if not rows:
        return MetricHistory(run_id, key, (), (), ())
    steps, values, times = zip(*rows, strict=True)
    if None in values:
        values = tuple(math.nan if v is None else v for v in values)
    return MetricHistory(run_id, key, steps, values, times)
