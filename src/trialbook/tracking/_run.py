"""A live run: the object a training script logs into."""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import shutil
import threading
import time
import traceback
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

from trialbook._metrics import metric_goal
from trialbook._types import MetricsInput, RunStatus
from trialbook.errors import ConfigError, MetricValueError, RunStateError, StoreError
from trialbook.store._base import Store
from trialbook.store._records import Artifact, Checkpoint, Dataset, Evaluation, RunRecord, Sample
from trialbook.tracking import _lifecycle
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._provenance import count_rows, path_digest
from trialbook.tracking._writer import STEP_KEY, TIME_KEY, MetricWriter

__all__ = ["Run", "write_summary"]

_MAX_STEP = 2**63


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
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise MetricValueError(
        f"Metric {key!r} got {shown} ({type(value).__name__}), which is not a number; log "
        "ints, floats or NumPy/torch scalars, and put text in the config, notes or an artifact."
    )


class Run:
    """A run being tracked. Create one with :func:`trialbook.start_run`.

    ``log`` is cheap (it appends to a buffer that a writer thread flushes); everything else
    writes through to the Store and the run folder at once. Use it as a context manager: a
    normal exit marks the run ``completed``, an exception ``failed`` (traceback saved),
    Ctrl-C or SIGTERM ``killed``.
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
    ) -> None:
        self.record = record
        self.store = store
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
        )
        self._append = self._writer.buffer.append
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
    def config(self) -> Mapping[str, Any]:
        return self.record.config

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
        for key, value in metrics.items():
            # Only exact floats skip conversion: an int may be too large for the database.
            if type(value) is not float or type(key) is not str:
                values = {k: _coerce(k, v) for k, v in metrics.items()}
                break
        else:
            values = metrics.copy() if type(metrics) is dict else dict(metrics)
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
        """Write everything logged so far to the Store now."""
        self._writer.flush()

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record extra params besides the config (flattened keys, any JSON value)."""
        self._check_open()
        self.store.log_params(self.id, dict(params))

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
        evaluation, samples = store_evaluation(self.store, self.id, benchmark, result, split)
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
        """Record a saved checkpoint (a file or folder) with its size and sha256."""
        self._check_open()
        p = Path(path)
        if not p.exists():
            raise ConfigError(
                f"Checkpoint {p} does not exist; save the model first, e.g. under "
                f"{self.checkpoint_dir}."
            )
        digest, size = path_digest(p)
        plain = {k: float(_coerce(k, v)) for k, v in (metrics or {}).items()}
        return self.store.log_checkpoint(
            self.id, str(p.absolute()), step=step, size=size, sha256=digest, metrics=plain
        )

    def log_artifact(
        self, path: str | os.PathLike[str], kind: str | None = None, *, copy: bool = True
    ) -> Artifact:
        """Record a file; with ``copy`` (default) one outside the run folder is copied into
        ``artifacts/`` so the run folder stays self-contained."""
        self._check_open()
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"Artifact {p} does not exist; write it before logging it.")
        if copy and self.path.absolute() not in p.absolute().parents:
            target = self.artifacts_dir / p.name
            if p.is_dir():
                shutil.copytree(p, target, dirs_exist_ok=True)
            else:
                shutil.copy2(p, target)
            p = target
        digest, size = path_digest(p)
        return self.store.log_artifact(
            self.id, str(p.absolute()), kind=kind, size=size, sha256=digest
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
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"Dataset file {p} does not exist; check the path.")
        digest, size = path_digest(p)
        dataset = self.store.log_dataset(
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

    def finish(self, status: RunStatus = "completed", error: str | None = None) -> None:
        """Flush, write summary.json and mark the run ``status``. Safe to call twice."""
        with self._finish_lock:
            if self._finished:
                return
            self._finished = True
        _lifecycle.unregister(self)
        self._writer.stop()
        if self._monitor is not None:
            with contextlib.suppress(Exception):
                self._sample_system()
        try:
            self._writer.flush()
        except Exception as e:
            lost = self._writer.dump_unwritten(self.path / "unflushed_metrics.jsonl")
            self._status = status
            raise StoreError(
                f"Run {self.id}: {lost} metric points could not be stored ({e}); they are "
                f"saved in {self.path / 'unflushed_metrics.jsonl'}."
            ) from e
        ended = time.time()
        duration = time.monotonic() - self._started_monotonic
        self.store.finish_run(self.id, status, ended, duration, error)
        self._status = status
        self._write_summary(ended=ended, duration=duration, error=error)
        if self._owns_store:
            self.store.close()

    def _write_summary(
        self, ended: float | None = None, duration: float | None = None, error: str | None = None
    ) -> None:
        write_summary(
            self.store,
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
    raw_timing = data.get("timing")
    timing: Mapping[str, Any] = raw_timing if isinstance(raw_timing, Mapping) else {}
    duration = data.get("duration", timing.get("total", timing.get("total_seconds")))
    evaluation = store.log_evaluation(
        run_id,
        benchmark,
        dict(metrics),
        split=split or data.get("split"),
        n=data.get("n", data.get("num_samples")),
        duration=float(duration) if isinstance(duration, numbers.Real) else None,
        samples=samples,
    )
    return evaluation, samples


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
