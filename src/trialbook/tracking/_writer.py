"""The background writer: drains logged points into the Store in batches.

``Run.log`` only appends to a deque (thread-safe, no lock); this thread wakes every
``flush_interval`` seconds, turns the entries into points and writes them in one
transaction. Points that cannot be written stay queued and are retried, so a slow or
briefly locked database delays data but never drops it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from operator import itemgetter, methodcaller
from pathlib import Path
from typing import Any

from trialbook.store._base import Store

__all__ = ["STEP_KEY", "TIME_KEY", "MetricWriter"]

logger = logging.getLogger("trialbook")

#: Keys under which Run.log stores the step and time in each buffered dict. Metric names
#: are always strings, so these cannot collide with them.
STEP_KEY: Any = None
TIME_KEY: Any = 0

_POP_STEP = methodcaller("pop", STEP_KEY)
_POP_TIME = methodcaller("pop", TIME_KEY)

#: Per key: (steps, values, times).
Columns = dict[str, tuple[list[int], list[float], list[float]]]

#: At most this many points per transaction, so one flush never holds the lock for long.
MAX_BATCH = 50_000


class MetricWriter:
    """Owns the buffer of one run and the thread that flushes it."""

    def __init__(
        self,
        store: Store,
        run_id: str,
        *,
        flush_interval: float = 0.2,
        heartbeat_interval: float = 5.0,
        on_tick: Callable[[], None] | None = None,
        tick_interval: float = 10.0,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.flush_interval = flush_interval
        self.heartbeat_interval = heartbeat_interval
        # Run.log appends one dict per call: {name: value, ..., STEP_KEY: step, TIME_KEY: t}.
        self.buffer: deque[dict[Any, Any]] = deque()
        self._pending: Columns = {}
        self._lock = threading.Lock()  # serialises drains: the thread's and finish()'s
        self._stop = threading.Event()
        self._on_tick = on_tick
        self._tick_interval = tick_interval
        self._thread = threading.Thread(
            target=self._loop, name=f"trialbook-writer-{run_id}", daemon=True
        )
        self.points_written = 0
        self.last_error: BaseException | None = None
        self._warned = False

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        next_beat = time.monotonic() + self.heartbeat_interval
        next_tick = time.monotonic() + (self._tick_interval if self._on_tick else float("inf"))
        while not self._stop.wait(self.flush_interval):
            self.flush(raise_errors=False)
            now = time.monotonic()
            if now >= next_tick and self._on_tick is not None:
                next_tick = now + self._tick_interval
                try:
                    self._on_tick()
                except Exception:  # system metrics must never take a run down
                    logger.debug("system metrics sample failed", exc_info=True)
            if now >= next_beat:
                next_beat = now + self.heartbeat_interval
                try:
                    self.store.update_run(self.run_id, heartbeat_at=time.time())
                except Exception as e:
                    self._warn(e)

    def _take(self) -> Columns:
        """Move the buffer into columns per key (plus anything a failed flush left).

        Works column by column with C-level helpers (``map``, ``itemgetter``) instead of a
        Python loop over points: this thread shares the GIL with the training loop.
        """
        pending = self._pending
        self._pending = {}
        popleft = self.buffer.popleft
        entries = [popleft() for _ in range(len(self.buffer))]
        columns: Columns = {}
        if entries:
            steps = list(map(_POP_STEP, entries))
            times = list(map(_POP_TIME, entries))
            for key in set().union(*entries):
                try:
                    # The common case: the key was logged in every call.
                    columns[key] = (steps, list(map(itemgetter(key), entries)), times)
                except KeyError:
                    idx = [i for i, e in enumerate(entries) if key in e]
                    columns[key] = (
                        [steps[i] for i in idx],
                        [entries[i][key] for i in idx],
                        [times[i] for i in idx],
                    )
        if pending:
            for key, (st, va, ti) in columns.items():
                old = pending.get(key)
                pending[key] = (
                    (st, va, ti) if old is None else (old[0] + st, old[1] + va, old[2] + ti)
                )
            return pending
        return columns

    def flush(self, raise_errors: bool = True) -> int:
        """Write everything logged so far; return how many points were written."""
        with self._lock:
            chunks = _chunks(self._take(), MAX_BATCH)
            written = 0
            for i, chunk in enumerate(chunks):
                try:
                    self.store.log_metric_columns(self.run_id, chunk)
                except Exception as e:
                    # Keep what was not written; the next flush retries it.
                    self._pending = _merge(chunks[i:])
                    self.points_written += written
                    self.last_error = e
                    if raise_errors:
                        raise
                    self._warn(e)
                    return written
                written += sum(len(c[0]) for c in chunk.values())
            self.points_written += written
            self.last_error = None
            return written

    def _warn(self, error: BaseException) -> None:
        if not self._warned:
            self._warned = True
            logger.warning("trialbook: writing run %s failed, will retry: %s", self.run_id, error)

    def stop(self) -> None:
        """Stop the thread (it finishes the flush it is in). Call :meth:`flush` after."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def dump_unwritten(self, path: Path) -> int:
        """Save points that could not be stored as JSONL, so nothing is lost silently."""
        with self._lock:
            columns = self._take()
            count = 0
            with path.open("a", encoding="utf-8") as f:
                for key, (steps, values, times) in columns.items():
                    for step, value, at in zip(steps, values, times, strict=True):
                        record = {"key": key, "step": step, "value": repr(value), "time": at}
                        f.write(json.dumps(record) + "\n")
                        count += 1
            return count

    def stats(self) -> dict[str, Any]:
        return {"points_written": self.points_written, "queued": len(self.buffer)}


def _merge(chunks: list[Columns]) -> Columns:
    out: Columns = {}
    for chunk in chunks:
        for key, (st, va, ti) in chunk.items():
            old = out.get(key)
            out[key] = (
                (list(st), list(va), list(ti))
                if old is None
                else (old[0] + st, old[1] + va, old[2] + ti)
            )
    return out


def _chunks(columns: Columns, limit: int) -> list[Columns]:
    """Split columns into batches of at most ``limit`` points."""
    out: list[Columns] = []
    current: Columns = {}
    size = 0
    for key, (steps, values, times) in columns.items():
        if size + len(steps) <= limit:  # no copy needed
            current[key] = (steps, values, times)
            size += len(steps)
            continue
        start = 0
        while start < len(steps):
            take = min(limit - size, len(steps) - start)
            end = start + take
            current[key] = (steps[start:end], values[start:end], times[start:end])
            start = end
            size += take
            if size >= limit:
                out.append(current)
                current, size = {}, 0
    if current:
        out.append(current)
    return out
