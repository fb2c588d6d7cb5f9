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
from pathlib import Path
from typing import Any

from trialbook.store._base import Store

__all__ = ["Entry", "MetricWriter"]

logger = logging.getLogger("trialbook")

#: What Run.log appends: (step, time, {key: value}) with every value an int or float.
Entry = tuple[int, float, dict[str, float]]
Series = dict[str, list[tuple[int, float, float]]]

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
        self.buffer: deque[Entry] = deque()
        self._pending: Series = {}
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

    def _take(self) -> tuple[Series, int]:
        """Move the buffer (and anything a failed flush left) into one series per key."""
        series = self._pending
        self._pending = {}
        buf = self.buffer
        popleft = buf.popleft
        get = series.get
        n = 0
        for _ in range(len(buf)):
            step, at, metrics = popleft()
            for key, value in metrics.items():
                pts = get(key)
                if pts is None:
                    series[key] = [(step, value, at)]
                else:
                    pts.append((step, value, at))
            n += len(metrics)
        return series, n

    def flush(self, raise_errors: bool = True) -> int:
        """Write everything logged so far; return how many points were written."""
        with self._lock:
            series, _ = self._take()
            written = 0
            try:
                for chunk in _chunks(series, MAX_BATCH):
                    self.store.log_metrics(self.run_id, chunk)
                    for key, pts in chunk.items():
                        written += len(pts)
                        done = series[key]
                        del done[: len(pts)]
            except Exception as e:
                # Keep what was not written; the next flush retries it.
                self._pending = {k: v for k, v in series.items() if v}
                self.points_written += written
                self.last_error = e
                if raise_errors:
                    raise
                self._warn(e)
                return written
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
            series, _ = self._take()
            count = 0
            with path.open("a", encoding="utf-8") as f:
                for key, pts in series.items():
                    for step, value, at in pts:
                        f.write(
                            json.dumps({"key": key, "step": step, "value": repr(value), "time": at})
                            + "\n"
                        )
                        count += 1
            return count

    def stats(self) -> dict[str, Any]:
        return {"points_written": self.points_written, "queued": len(self.buffer)}


def _chunks(series: Series, limit: int) -> list[Series]:
    """Split a series into batches of at most ``limit`` points (whole keys where possible)."""
    out: list[Series] = []
    current: Series = {}
    size = 0
    for key, pts in series.items():
        start = 0
        while start < len(pts):
            take = min(limit - size, len(pts) - start)
            current.setdefault(key, []).extend(pts[start : start + take])
            start += take
            size += take
            if size >= limit:
                out.append(current)
                current, size = {}, 0
    if current:
        out.append(current)
    return out
