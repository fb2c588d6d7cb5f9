"""A live run: the object a training script logs into."""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import shutil
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from trialbook._disk import is_disk_full
from trialbook._metrics import metric_goal
from trialbook._types import FINISHED_STATUSES, MetricsInput, RunStatus
from trialbook.errors import (
    ConfigError,
    MetricValueError,
    RunStateError,
    StoreError,
    TrialbookError,
)
from trialbook.store._base import Store
from trialbook.store._records import Artifact, Checkpoint, Dataset, Evaluation, RunRecord, Sample
from trialbook.tracking import _lifecycle
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._provenance import count_rows, path_digest
from trialbook.tracking._writer import STEP_KEY, TIME_KEY, MetricWriter

__all__ = ["FrozenConfig", "Run", "write_summary"]

#: The order finish statuses are listed in messages.
_FINAL = ("completed", "failed", "killed", "crashed")

_MAX_STEP = 2**63


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _coerce(key: Any, value: Any) -> float:
    """The slow path of Run.log: anything that is not exactly an int or float."""
    if type(key) is not str:
        raise MetricValueError(
            f"Metric names must be strings, got {key!r} ({type(key).__name__}); "
            "use a name such as 'train/loss'."
        )
    if isinstance(value, bool | numbers.Real):  # also NumPy scalars
        try:
            return float(value)
        except OverflowError:
            pass
    else:
        item = getattr(value, "item", None)
        size = getattr(value, "numel", None)
        n = size() if callable(size) else getattr(value, "size", None)
        if callable(item) and n == 1:  # torch tensors and NumPy arrays of one element
            scalar = item()
            if isinstance(scalar, bool | numbers.Real):
                return float(scalar)
    raise MetricValueError(
        f"Metric {key!r} got {_short(value)} ({type(value).__name__}), which is not a number; log "
        "ints, floats or NumPy/torch scalars, and put text in the config, notes or an artifact."
    )


def _read_only(*_args: Any, **_kwargs: Any) -> Any:
    raise ConfigError(
        "run.config is read-only: it is what the run was started with (config.yaml and the "
        "config hash say the same); record values decided later with run.log_params({...})."
    )


class FrozenConfig(dict[str, Any]):
    """``run.config``: the run's config as a dict that cannot be changed (nested mappings and
    lists too), so that it always agrees with config.yaml, the database and the hash.

    ``copy.deepcopy(run.config)`` and ``dict(run.config)`` give ordinary dicts.
    """

    __slots__ = ()
    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only
    __ior__ = _read_only

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> FrozenConfig:
        return cls((k, _freeze(v)) for k, v in config.items())

    def copy(self) -> dict[str, Any]:
        return _thaw(self)  # type: ignore[no-any-return]

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return _thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (_thaw(self),))


class FrozenList(list[Any]):
    """A list inside ``run.config``: read-only like the config."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def copy(self) -> list[Any]:
        return _thaw(self)  # type: ignore[no-any-return]

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return _thaw(self)  # type: ignore[no-any-return]

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (_thaw(self),))


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return FrozenConfig.of(value)
    if isinstance(value, list):
        return FrozenList(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thaw(v) for v in value]
    return value


def _register_yaml() -> None:
    # yaml.safe_dump(run.config) works like it does for the dict it was made from.
    import yaml

    yaml.SafeDumper.add_representer(FrozenConfig, yaml.SafeDumper.represent_dict)
    yaml.SafeDumper.add_representer(FrozenList, yaml.SafeDumper.represent_list)


_register_yaml()


class Run:
    """A run being tracked. Create one with :func:`trialbook.start_run`.

    ``log`` is cheap (it appends to a buffer that a writer thread flushes); everything else
    writes through to the Store and the run folder at once. Use it as a context manager: a
    normal exit marks the run ``completed``, an exception ``failed`` (traceback saved),
    Ctrl-C or SIGTERM ``killed``.

    In another process (a forked ``multiprocessing`` child such as a DataLoader worker, or a
    spawned one that received the Run pickled) ``log`` and the other ``log_*`` methods work:
    on first use there the run gets its own database connection and writer, whose points are
    flushed every ``flush_interval`` and when that process exits. Only the process that
    opened the run finishes it; ``finish`` elsewhere just flushes.
    """

    def __init__(
        self,
        record: RunRecord,
        store: Store,
        folder: RunFolder,
        *,
        meta: dict[str, Any],
        flush_interval: float,
        heartbeat_interval: float,
        system_monitor: Any | None = None,
        metric_goals: Mapping[str, str] | None = None,
        owns_store: bool = True,
        store_retry: float = 60.0,
    ) -> None:
        self.record = record
        self._store = store
        self._store_url: str | None = getattr(store, "url", None)
        self._flush_interval = flush_interval
        self._store_retry = store_retry
        self._config = FrozenConfig.of(record.config)
        self._opener_pid = os.getpid()
        self._child = False  # True in a process other than the one that opened the run
        self._adopted = False  # a child has its own store and writer
        self._adopt_lock = threading.Lock()
        self._inherited: list[Any] = []
        self._rejected_reported: dict[str, int] = {}
        self.folder = folder
        self._meta = meta
        self._goals = dict(metric_goals or {})
        self._owns_store = owns_store
        self._monitor = system_monitor
        self._system_step = 0
        self._started_monotonic = time.monotonic()
        self._status: RunStatus = "running"
        self._finished = False
        self._finish_lock = threading.Lock()
        self._next_step = 0
        self._writer = MetricWriter(
            store,
            record.id,
            flush_interval=flush_interval,
            heartbeat_interval=heartbeat_interval,
            on_tick=self._sample_system if system_monitor is not None else None,
            on_rejected=self._on_rejected,
        )
        # The bound append run.log calls; swapped (never checked per call) to report a
        # rejected metric name or to set up a child process on its first log.
        self._append: Callable[[dict[Any, Any]], None] = self._writer.buffer.append
        self._writer.start()
        _lifecycle.register(self)

    # ----------------------------------------------------------------- identity
    @property
    def id(self) -> str:
        return self.record.id

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def experiment(self) -> str:
        return self.record.experiment

    @property
    def config(self) -> FrozenConfig:
        """The run's config, read-only (record later decisions with :meth:`log_params`)."""
        return self._config

    @property
    def store(self) -> Store:
        """The Store this run writes to (in a child process, that process's own)."""
        if self._child and not self._adopted:
            self._adopt()
        return self._store

    @property
    def seed(self) -> int | None:
        return self.record.seed

    @property
    def path(self) -> Path:
        """The run folder."""
        return self.folder.path

    @property
    def checkpoint_dir(self) -> Path:
        return self.folder.checkpoint_dir

    @property
    def artifacts_dir(self) -> Path:
        return self.folder.artifacts_dir

    @property
    def status(self) -> RunStatus:
        return self._status

    @property
    def finished(self) -> bool:
        return self._finished

    def __repr__(self) -> str:
        return f"<Run {self.id} {self.experiment}/{self.name} {self._status}>"

    def _repr_html_(self) -> str:
        """The run in a notebook: its record, metrics and their curves, read from the Store
        (points still in this process's buffer show after the next flush)."""
        from trialbook._html import run_html

        return run_html(self.store, self.id)

    # ----------------------------------------------------------------- metrics
    def log(self, metrics: MetricsInput, step: int | None = None) -> None:
        """Record metric values at ``step`` (the next step after the last one when omitted).

        Returns at once; a writer thread stores the values. NaN and +-inf are kept.

        Raises:
            MetricValueError: a value is not a number (the message names the key).
            RunStateError: the run has finished.
        """
        if self._finished:
            raise RunStateError(
                f"Run {self.id} has finished ({self._status}); start a new run to log more."
            )
        if step is None:
            step = self._next_step
        elif type(step) is not int or not -_MAX_STEP <= step < _MAX_STEP:
            step = self._coerce_step(step)
        self._next_step = step + 1
        try:
            for key, value in metrics.items():
                # Only exact floats skip conversion: an int may be too large for the database.
                if type(value) is not float or type(key) is not str:
                    values = {k: _coerce(k, v) for k, v in metrics.items()}
                    break
            else:
                values = metrics.copy() if type(metrics) is dict else dict(metrics)
        except AttributeError:
            if hasattr(metrics, "items"):
                raise
            raise MetricValueError(
                f"run.log takes a mapping of names to numbers, got a {type(metrics).__name__} "
                f"({_short(metrics)}); pass e.g. run.log({{'loss': 0.5}})."
            ) from None
        # Step and time ride in the dict under non-string keys (metric names are strings):
        # one atomic append, and no tuple per call (allocating one triggered garbage
        # collections that doubled the cost of this method).
        values[STEP_KEY] = step
        values[TIME_KEY] = time.time()
        self._append(values)

    @staticmethod
    def _coerce_step(step: Any) -> int:
        try:
            if isinstance(step, bool):
                raise TypeError
            value = int(step.__index__())
        except (AttributeError, TypeError):
            raise MetricValueError(
                f"step must be an integer, got {step!r}; pass step=i with i an int."
            ) from None
        if not -_MAX_STEP <= value < _MAX_STEP:
            raise MetricValueError(
                f"step {value} is outside the 64-bit range the database stores; use a smaller step."
            )
        return value

    log_metrics = log

    def _sample_system(self) -> None:
        assert self._monitor is not None
        values = self._monitor.sample()
        if values:
            entry: dict[Any, float] = dict(values)
            entry[STEP_KEY] = self._system_step
            entry[TIME_KEY] = time.time()
            self._append(entry)
            self._system_step += 1

    def flush(self) -> None:
        """Write everything logged so far (in this process) to the Store now."""
        if self._child and not self._adopted:
            return  # nothing logged in this process yet
        self._writer.flush()

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record extra params besides the config (flattened keys such as ``"training.lr"``;
        numbers, strings, booleans, lists or mappings as values).

        Raises:
            ConfigError: ``params`` is not a mapping, a key is not a string or a value cannot
                be stored (the check ``start_run`` makes of a config); nothing is stored.
        """
        from trialbook.config._hash import to_plain_config
        from trialbook.tracking._create import check_config_shape

        self._check_open()
        if not isinstance(params, Mapping):
            raise ConfigError(
                f"log_params takes a mapping of names to values, not {_short(params)} "
                f"({type(params).__name__}); pass e.g. run.log_params({{'lr': 1e-4}})."
            )
        try:
            check_config_shape(params)
            plain = to_plain_config(params)
        except ConfigError as e:
            raise ConfigError(f"log_params: {e}") from None
        self._store.log_params(self.id, plain)

    # ----------------------------------------------------------------- rejected names
    def _on_rejected(self, key: str, count: int) -> None:
        """Called by the writer thread when it refuses a metric name: the next ``log`` call
        raises (the swap costs run.log nothing while names are good)."""
        self._append = self._raise_rejected

    def _rejected_message(self) -> str | None:
        counts = dict(self._writer.rejected)  # a snapshot: the writer thread may add to it
        new = {
            k: n - self._rejected_reported.get(k, 0)
            for k, n in counts.items()
            if n > self._rejected_reported.get(k, 0)
        }
        if not new:
            return None
        self._rejected_reported.update(counts)
        shown = ", ".join(f"{k!r} ({n} point{'s' if n != 1 else ''})" for k, n in new.items())
        return (
            f"Run {self.id}: metric names must not be empty; the points logged under {shown} "
            "were not stored. Use a name such as 'train/loss'."
        )

    def _raise_rejected(self, values: dict[Any, Any]) -> None:
        self._append = self._writer.buffer.append
        message = self._rejected_message()
        if message is None:  # pragma: no cover - reported by finish meanwhile
            self._append(values)
            return
        raise MetricValueError(message + " (Nothing from this call was stored either.)")

    # ----------------------------------------------------------------- evaluations
    def log_evaluation(
        self, benchmark: str, result: Any, *, split: str | None = None
    ) -> Evaluation:
        """Store a benchmark result: summary metrics, and per-sample results when present.

        ``result`` is an object with ``to_dict()`` or a mapping with ``metrics`` (and
        optionally ``samples``, ``n``, ``split``, ``timing``/``duration``); a flat mapping
        of numbers is taken as the metrics. Samples also go to
        ``evaluations/<benchmark>.jsonl`` in the run folder.
        """
        self._check_open()
        evaluation, samples = store_evaluation(self._store, self.id, benchmark, result, split)
        if samples:
            self.folder.write_samples(benchmark, (_sample_json(s) for s in samples))
        self._write_summary()
        return evaluation

    # ----------------------------------------------------------------- files
    def log_checkpoint(
        self,
        path: str | os.PathLike[str],
        step: int | None = None,
        metrics: Mapping[str, Any] | None = None,
    ) -> Checkpoint:
        """Record a saved checkpoint (a file or folder) with its size and sha256.

        Raises:
            ConfigError: the path does not exist or leads outside the run folder; ``step`` is
                not an integer (the same check as :meth:`log`'s).
        """
        self._check_open()
        if step is not None and (type(step) is not int or not -_MAX_STEP <= step < _MAX_STEP):
            step = self._coerce_step(step)
        given = Path(path)
        if not given.exists():
            raise ConfigError(
                f"Checkpoint {given} does not exist; save the model first, e.g. under "
                f"{self.checkpoint_dir}."
            )
        p = given.resolve()
        if self._escapes(given, p):
            raise ConfigError(
                f"Checkpoint {given} is written as a path inside the run folder but is really "
                f"{p}, outside it ('..' or a symlink); save it under {self.checkpoint_dir}, or "
                f"pass {p} itself to record a checkpoint kept elsewhere."
            )
        digest, size = path_digest(p)
        plain = {k: float(_coerce(k, v)) for k, v in (metrics or {}).items()}
        return self._store.log_checkpoint(
            self.id, str(self._recorded(p)), step=step, size=size, sha256=digest, metrics=plain
        )

    def _recorded(self, resolved: Path) -> Path:
        """The path to record: inside the run folder, spelled from the run folder's path as
        the Store knows it (a symlinked workspace stays as it was named); elsewhere, real."""
        run = self.path.resolve()
        if run in resolved.parents:
            return self.path.absolute() / resolved.relative_to(run)
        return resolved

    def _escapes(self, given: Path, resolved: Path) -> bool:
        """``given`` is spelled as a path in the run folder but ``resolved`` is outside it."""
        run = self.path.resolve()
        spelled_inside = self.path.absolute() in given.absolute().parents or run in (
            given.absolute().parents
        )
        return spelled_inside and resolved != run and run not in resolved.parents

    def log_artifact(
        self, path: str | os.PathLike[str], kind: str | None = None, *, copy: bool = True
    ) -> Artifact:
        """Record a file; with ``copy`` (default) one outside the run folder is copied into
        ``artifacts/`` so the run folder stays self-contained."""
        self._check_open()
        given = Path(path)
        if not given.exists():
            raise ConfigError(f"Artifact {given} does not exist; write it before logging it.")
        # Resolved first: a path spelled inside the run folder ('artifacts/../../x' or a
        # symlink) that leads outside it is copied in like any outside file.
        p = given.resolve()
        run = self.path.resolve()
        if p == run or p in run.parents:
            raise ConfigError(
                f"Artifact {given} is the run folder or contains it; log the files or "
                "folders inside it instead."
            )
        if copy and run not in p.parents:
            target = self.artifacts_dir / p.name
            if p.is_dir():
                shutil.copytree(p, target, dirs_exist_ok=True)
            else:
                shutil.copy2(p, target)
            p = target.resolve()
        digest, size = path_digest(p)
        return self._store.log_artifact(
            self.id, str(self._recorded(p)), kind=kind, size=size, sha256=digest
        )

    def log_dataset(
        self,
        path: str | os.PathLike[str],
        name: str | None = None,
        *,
        parent: str | None = None,
        transform: str | None = None,
    ) -> Dataset:
        """Declare a data file the run uses: its sha256, size and rows are recorded, with its
        lineage (``parent`` dataset name and the ``transform`` that made it)."""
        self._check_open()
        if self._child:
            raise RunStateError(
                f"log_dataset writes the run's meta.json, which belongs to the process that "
                f"opened run {self.id} (pid {self._opener_pid}); declare datasets there."
            )
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"Dataset file {p} does not exist; check the path.")
        digest, size = path_digest(p)
        dataset = self._store.log_dataset(
            self.id,
            name or p.stem,
            str(p.absolute()),
            sha256=digest,
            size=size,
            rows=count_rows(p),
            parent=parent,
            transform=transform,
        )
        data = self._meta.setdefault("data", [])
        data.append(
            {
                "name": dataset.name,
                "path": dataset.path,
                "sha256": dataset.sha256,
                "size": dataset.size,
                "rows": dataset.rows,
                "parent": parent,
                "transform": transform,
            }
        )
        self.folder.write_meta(self._meta)
        return dataset

    # ----------------------------------------------------------------- finishing
    def _check_open(self) -> None:
        if self._finished:
            raise RunStateError(
                f"Run {self.id} has finished ({self._status}); start a new run to log more."
            )
        if self._child and not self._adopted:
            self._adopt()

    def finish(self, status: RunStatus = "completed", error: str | None = None) -> None:
        """Flush, write summary.json and mark the run ``status`` (completed, failed, killed
        or crashed). Safe to call twice. In a process other than the one that opened the
        run, it only flushes that process's points.

        Raises:
            ConfigError: ``status`` is not a final status (nothing changes; call again).
            StoreError: some metric points could not be stored; the message says how many,
                where they were saved and how many were lost. The run is finished all the same.
            MetricValueError: points under an empty metric name were refused (named).
        """
        if status not in FINISHED_STATUSES:
            raise ConfigError(
                f"Unknown final status {status!r}; use one of {', '.join(_FINAL)} "
                "(the run is still open)."
            )
        if self._child:
            self.flush()
            return
        with self._finish_lock:
            if self._finished:
                return
            self._finished = True
        _lifecycle.unregister(self)
        self._writer.stop()
        if self._monitor is not None:
            with contextlib.suppress(Exception):
                self._sample_system()
        problems: list[str] = []
        cause: BaseException | None = None
        try:
            self.folder.wait_synced()  # config.yaml and meta.json, synced since the start
        except OSError as e:
            problems.append(f"Run {self.id}'s folder {self.folder.path} could not be synced ({e}).")
            cause = e
        # One deadline for everything finish writes: a full disk is waited for once.
        deadline = time.monotonic() + self._store_retry
        lost = self._drain(deadline)
        if lost is not None:
            problems.append(lost[0])
            cause = lost[1]
            error = f"{error}\n{lost[0]}" if error else lost[0]
        ended = time.time()
        # RunRecord.duration is ended_at - started_at, the run's own time (see its docstring).
        started = self.record.started_at
        if started is not None:
            duration = max(0.0, ended - started)
        else:
            duration = time.monotonic() - self._started_monotonic
        try:
            self._retrying(
                lambda: self._store.finish_run(self.id, status, ended, duration, error), deadline
            )
        except Exception as e:
            if not problems:
                self._close()  # the run stays "running" here as in the database
                raise
            problems.append(
                f"The run could not be marked {status} in the database either ({e}); readers "
                "will see it as crashed."
            )
        self._status = status
        try:
            self._retrying(
                lambda: self._write_summary(ended=ended, duration=duration, error=error), deadline
            )
        except (OSError, TrialbookError) as e:
            problems.append(
                f"Run {self.id} is {status}, but its summary.json could not be written ({e})."
            )
            cause = cause or e
        self._close()
        if problems:
            raise StoreError(" ".join(problems)) from cause
        rejected = self._rejected_message()
        if rejected is not None:
            raise MetricValueError(rejected)

    def _close(self) -> None:
        if self._owns_store:
            self._store.close()

    @staticmethod
    def _retrying(write: Callable[[], object], deadline: float) -> None:
        """``write``, retried while the disk is full, until ``deadline`` (monotonic)."""
        while True:
            try:
                write()
                return
            except Exception as e:
                left = deadline - time.monotonic()
                if left <= 0 or not is_disk_full(e):
                    raise
                time.sleep(min(left, 0.5))

    def _drain(self, deadline: float) -> tuple[str, BaseException | None] | None:
        """Store every queued point, waiting until ``deadline`` for a full disk to get space
        back; failing that, save them to the rescue files. Returns the sentence that says
        what happened when not every point was stored."""
        try:
            self._writer.drain(max(0.0, deadline - time.monotonic()))
        except Exception as e:
            rescue = (
                self.path / "unflushed_metrics.jsonl",
                Path(tempfile.gettempdir()) / f"trialbook-{self.id}-unflushed_metrics.jsonl",
            )
            saved, lost = self._writer.dump_unwritten(rescue)
            return _lost_sentence(self.id, saved, lost, e), e
        if self._writer.points_dropped:
            return _lost_sentence(self.id, [], self._writer.points_dropped, None), None
        return None

    # ----------------------------------------------------------------- other processes
    def _after_fork(self) -> None:
        """In a child forked while this run was open (``os.register_at_fork``): the writer
        thread and the database connection belong to the parent, so the first use here makes
        its own (:meth:`_adopt`). The parent's queued points stay the parent's."""
        self._child = True
        self._adopted = False
        self._adopt_lock = threading.Lock()
        self._finish_lock = threading.Lock()
        self._monitor = None
        # Never used, closed or collected here: closing the parent's SQLite connection in
        # the child is what SQLite warns against.
        inherited = getattr(self, "_store", None)
        if inherited is not None:
            self._inherited.append(inherited)
        if not self._finished:
            self._append = self._first_append

    def _fork_lock(self) -> threading.Lock | None:
        """The lock a fork waits for (see MetricWriter.fork_lock), when this process has a
        writer for the run."""
        if self._child and not self._adopted:
            return None
        return self._writer.fork_lock

    def _first_append(self, values: dict[Any, Any]) -> None:
        self._adopt()
        self._append(values)

    def _adopt(self) -> None:
        """First use in a process other than the opener's: open the Store again, check the
        run is still running, start this process's writer and flush it at exit."""
        with self._adopt_lock:
            if self._adopted:
                return
            if self._store_url is None:
                raise RunStateError(
                    f"Run {self.id} was opened in process {self._opener_pid} with a Store "
                    "that cannot be reopened in another process; log from that process."
                )
            from trialbook.store._connect import connect

            store = connect(self._store_url)
            try:
                status = store.get_run(self.id).status
                if status != "running":
                    raise RunStateError(
                        f"Run {self.id} is {status}; another process can log into it only "
                        "while the process that opened it has not finished it."
                    )
                writer = MetricWriter(
                    store,
                    self.id,
                    flush_interval=self._flush_interval,
                    heartbeat_interval=float("inf"),  # the opener keeps the heartbeat
                    on_rejected=self._on_rejected,
                )
                writer.start()
            except BaseException:
                store.close()
                raise
            self._store = store
            self._writer = writer
            self._owns_store = True
            self._append = writer.buffer.append
            self._adopted = True
            _lifecycle.at_child_exit(self._exit_child)

    def _exit_child(self) -> None:
        """At a child's exit: store its points (or save them to the rescue file and say so
        on stderr, the only place left to say it)."""
        import sys

        if not self._adopted:
            return
        self._adopted = False
        self._writer.stop()
        lost = self._drain(time.monotonic() + self._store_retry)
        rejected = self._rejected_message()
        with contextlib.suppress(Exception):
            self._store.close()
        for message in (lost[0] if lost else None, rejected):
            if message:
                print(f"trialbook (process {os.getpid()}): {message}", file=sys.stderr)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (a spawned process, a DataLoader worker with ``spawn``): the copy
        re-attaches to the same run id in the process that unpickles it (see the class
        docstring)."""
        state = {
            "record": self.record,
            "folder": str(self.folder.path),
            "store_url": self._store_url,
            "flush_interval": self._flush_interval,
            "store_retry": self._store_retry,
            "goals": self._goals,
            "status": self._status,
            "finished": self._finished,
            "opener_pid": self._opener_pid,
        }
        return (_reattach, (state,))

    def _write_summary(
        self, ended: float | None = None, duration: float | None = None, error: str | None = None
    ) -> None:
        write_summary(
            self._store,
            self.folder,
            self.record,
            status=self._status,
            goals=self._goals,
            ended=ended,
            duration=duration,
            error=error,
        )

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.finish("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.finish("killed", error="Interrupted (Ctrl-C).")
        elif issubclass(exc_type, SystemExit):
            code = getattr(exc, "code", 0)
            if code in (0, None):
                self.finish("completed")
            elif _lifecycle._signalled:
                self.finish("killed", error=f"The process was terminated (exit {code}).")
            else:
                self.finish("failed", error=f"SystemExit({code!r})")
        else:
            self.finish("failed", error="".join(traceback.format_exception(exc_type, exc, tb)))


def _reattach(state: dict[str, Any]) -> Run:
    """A Run unpickled in another process: a handle on the same run id (see Run.__reduce__)."""
    run = Run.__new__(Run)
    run.record = state["record"]
    run.folder = RunFolder(Path(state["folder"]))
    run._store_url = state["store_url"]
    run._flush_interval = state["flush_interval"]
    run._store_retry = state["store_retry"]
    run._config = FrozenConfig.of(run.record.config)
    run._opener_pid = state["opener_pid"]
    run._goals = dict(state["goals"])
    run._status = state["status"]
    run._finished = state["finished"]
    run._meta = {}
    run._owns_store = True
    run._monitor = None
    run._system_step = 0
    run._started_monotonic = time.monotonic()
    run._next_step = 0
    run._inherited = []
    run._rejected_reported = {}
    run._after_fork()
    _lifecycle.track(run)
    return run


def _lost_sentence(
    run_id: str, saved: list[tuple[Path, int]], lost: int, error: BaseException | None
) -> str:
    total = sum(n for _, n in saved) + lost
    why = f" ({error})" if error is not None else " (too many were waiting in memory)"
    parts = [f"Run {run_id}: {total} metric points could not be stored in the database{why}"]
    if saved:
        parts.append("saved " + " and ".join(f"{n} to {p}" for p, n in saved))
    parts.append(f"{lost} {'were' if lost != 1 else 'was'} lost" if lost else "none were lost")
    return "; ".join(parts) + "."


def write_summary(
    store: Store,
    folder: RunFolder,
    record: RunRecord,
    *,
    status: str,
    goals: Mapping[str, str] | None = None,
    ended: float | None = None,
    duration: float | None = None,
    error: str | None = None,
) -> None:
    """Write summary.json: status, final and best metrics, evaluations, runtime, error.

    Also used by the Runner to record the outcome of a process that died before it could.
    """
    goals = goals or {}
    summaries = store.metric_summaries([record.id]).get(record.id, {})
    final: dict[str, float] = {}
    best: dict[str, dict[str, Any]] = {}
    for key, s in sorted(summaries.items()):
        final[key] = s.last
        goal = goals.get(key) or metric_goal(key)
        value, step = (s.min, s.min_step) if goal == "min" else (s.max, s.max_step)
        best[key] = {"value": math.nan if value is None else value, "step": step, "goal": goal}
    evaluations = {
        e.benchmark: {"split": e.split, "n": e.n, "metrics": dict(e.metrics)}
        for e in store.evaluations(record.id)
    }
    summary: dict[str, Any] = {
        "run_id": record.id,
        "experiment": record.experiment,
        "name": record.name,
        "status": status,
        "seed": record.seed,
        "metrics": final,
        "best": best,
        "evaluations": evaluations,
        "start_time": _iso(record.started_at),
    }
    if ended is not None:
        summary["end_time"] = _iso(ended)
        summary["runtime_seconds"] = round(duration or 0.0, 3)
    if error:
        summary["error"] = error
    folder.write_summary(summary)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).isoformat()


def _result_dict(result: Any) -> dict[str, Any]:
    to_dict = getattr(result, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
    if not isinstance(result, Mapping):
        raise ConfigError(
            f"log_evaluation needs a mapping or an object with to_dict(), got "
            f"{type(result).__name__}."
        )
    return dict(result)


def _first(d: Mapping[str, Any], *keys: str) -> Any:
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return None


_SAMPLE_KEYS = {
    "id",
    "sample_id",
    "index",
    "prediction",
    "raw_output",
    "output",
    "extracted",
    "reference",
    "gold",
    "answer",
    "target",
    "score",
    "correct",
}


_OUTPUT_KEYS = ("extracted", "raw_output", "output")


def _first_key(d: Mapping[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` that ``d`` holds with a value other than None."""
    for k in keys:
        if d.get(k) is not None:
            return k
    return None


def _text(value: Any) -> str:
    """A reference as text: strings as they are, anything else (a list of answers, a number)
    as JSON, so that ``["Madrid", "madrid city"]`` stays readable JSON, not a Python repr."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def store_evaluation(
    store: Store, run_id: str, benchmark: str, result: Any, split: str | None = None
) -> tuple[Evaluation, list[Sample]]:
    """Store ``result`` (what :meth:`Run.log_evaluation` takes) as evaluation ``benchmark``
    of ``run_id``; return the Store's record and the samples (for the run folder's JSONL).

    Raises:
        ConfigError: the result has no metrics, or a sample is malformed.
    """
    if not isinstance(benchmark, str) or not benchmark.strip():
        raise ConfigError(
            f"The benchmark name {benchmark!r} is empty; name what was evaluated, e.g. "
            "run.log_evaluation('gsm8k', result)."
        )
    data = _result_dict(result)
    metrics = data.get("metrics")
    if metrics is None:
        metrics = {
            k: v for k, v in data.items() if isinstance(v, numbers.Real) and not isinstance(v, bool)
        }
    if not isinstance(metrics, Mapping) or not metrics:
        raise ConfigError(
            f"The result for {benchmark!r} has no metrics; pass a mapping like "
            "{'metrics': {'accuracy': 0.7}, 'samples': [...]}."
        )
    raw_samples = data.get("samples") or data.get("per_sample") or []
    samples = [_sample(s, i) for i, s in enumerate(raw_samples)]
    _check_unique_ids(benchmark, samples)
    raw_timing = data.get("timing")
    timing: Mapping[str, Any] = raw_timing if isinstance(raw_timing, Mapping) else {}
    duration = data.get("duration", timing.get("total", timing.get("total_seconds")))
    evaluation = store.log_evaluation(
        run_id,
        benchmark,
        _evaluation_metrics(benchmark, metrics),
        split=split or data.get("split"),
        n=data.get("n", data.get("num_samples")),
        duration=float(duration) if isinstance(duration, numbers.Real) else None,
        samples=samples,
    )
    return evaluation, samples


def _evaluation_metrics(
    benchmark: str, metrics: Mapping[Any, Any], prefix: str = ""
) -> dict[str, Any]:
    """The metrics as stored: numbers (ints kept as ints, NumPy/torch scalars as floats),
    ``None`` for a metric that could not be computed, and mappings of those (``per_type``
    breakdowns); anything else is refused, naming the metric.

    Raises:
        MetricValueError: a name that is not a non-empty string, or a value of another kind.
    """
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if type(key) is not str or not key.strip():
            raise MetricValueError(
                f"The result for {benchmark!r} has the metric name {prefix}{key!r}; metric "
                "names must be non-empty strings such as 'accuracy'."
            )
        plain = type(value) in (float, bool) or (
            type(value) is int and -_MAX_STEP <= value < _MAX_STEP
        )
        if value is None or plain:
            out[key] = value
        elif isinstance(value, Mapping):
            out[key] = _evaluation_metrics(benchmark, value, f"{prefix}{key}.")
        else:
            try:
                out[key] = _coerce(key, value)
            except MetricValueError:
                raise MetricValueError(
                    f"The result for {benchmark!r} has {prefix + key!r}: {_short(value)} "
                    f"({type(value).__name__}), which is not a number; metrics must be numbers "
                    "(put text in the samples or the run's notes)."
                ) from None
    return out


def _check_unique_ids(benchmark: str, samples: list[Sample]) -> None:
    """Paired tests match two runs' samples by id, so an id must name one sample.

    Raises:
        ConfigError: two samples share an id; names it and both positions.
    """
    first: dict[str, int] = {}
    for position, sample in enumerate(samples):
        earlier = first.setdefault(sample.sample_id, position)
        if earlier != position:
            raise ConfigError(
                f"The result for {benchmark!r} has two samples with the id "
                f"{sample.sample_id!r} (samples {earlier} and {position}); give each sample "
                "its own id (paired tests match samples across runs by id)."
            )


def _sample(raw: Any, position: int) -> Sample:
    if isinstance(raw, Sample):
        return raw
    to_dict = getattr(raw, "to_dict", None)
    if callable(to_dict):
        raw = to_dict()
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"Sample {position} is a {type(raw).__name__}; samples must be mappings with "
            "'id', 'prediction', 'reference' and 'correct' or 'score'."
        )
    sid = _first(raw, "id", "sample_id", "index")
    # An explicit prediction of None (nothing could be extracted) stays None.
    pred_key = "prediction" if "prediction" in raw else _first_key(raw, *_OUTPUT_KEYS)
    pred = None if pred_key is None else raw[pred_key]
    ref = _first(raw, "reference", "gold", "answer", "target")
    correct = raw.get("correct")
    score = raw.get("score")
    if score is None and correct is not None:
        score = 1.0 if correct else 0.0
    extra = {k: v for k, v in raw.items() if k not in _SAMPLE_KEYS}
    # The raw output is kept even when it equals the prediction (the same text, or the very
    # same object): only the key the prediction was taken from is not repeated.
    for k in _OUTPUT_KEYS:
        if k in raw and k != pred_key:
            extra[k] = raw[k]
    return Sample(
        sample_id=str(position if sid is None else sid),
        prediction=None if pred is None else str(pred),
        reference=None if ref is None else _text(ref),
        score=None if score is None else float(score),
        correct=None if correct is None else bool(correct),
        extra=extra,
    )


def _sample_json(s: Sample) -> dict[str, Any]:
    return {
        "id": s.sample_id,
        "prediction": s.prediction,
        "reference": s.reference,
        "correct": s.correct,
        "score": s.score,
        **dict(s.extra),
    }
