"""The background writer: drains logged points into the Store in batches.

``Run.log`` only appends to a deque (thread-safe, no lock); this thread writes the entries
every ``flush_interval`` seconds, or sooner when a fast loop has :data:`EARLY_FLUSH_CALLS`
calls waiting, in transactions of at most ``Store.batch_points`` points. On a Store with a
stream (PostgreSQL, :meth:`Store.metric_stream`), those early writes only send the points
into one open transaction, committed when the loop slows down (fewer than
:data:`EARLY_FLUSH_CALLS` calls waiting), every ``flush_interval`` and at finish; a stream
that fails hands its points back, written again by plain transactions. Points that cannot
be written stay queued in memory and are retried (less often while the database keeps
failing, at most every :data:`MAX_BACKOFF` seconds), so a slow, locked or full database
delays data but does not drop it. Two bounds: at most :data:`MAX_PENDING` points are kept in
memory (newer ones are counted as dropped and reported at finish), and ``finish`` waits a
bounded time for a full disk to get space back (:meth:`MetricWriter.drain`) before the
points go to a rescue file (:meth:`MetricWriter.dump_unwritten`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialbook._disk import is_disk_full
from trialbook.store._base import Store

if TYPE_CHECKING:
    from trialbook.store._stream import MetricStream

__all__ = ["EARLY_FLUSH_CALLS", "MAX_PENDING", "STEP_KEY", "TIME_KEY", "MetricWriter"]

logger = logging.getLogger("trialbook")

#: Keys under which Run.log stores the step and time in each buffered dict. Metric names
#: are always strings, so these cannot collide with them.
STEP_KEY: Any = None
TIME_KEY: Any = 0

_STEP = itemgetter(STEP_KEY)
_TIME = itemgetter(TIME_KEY)

#: Per key: (steps, values, times).
Columns = dict[str, tuple[list[int], list[float], list[float]]]

#: The writer looks at the buffer this often (seconds), and flushes before ``flush_interval``
#: has passed when at least :data:`EARLY_FLUSH_CALLS` ``Run.log`` calls are waiting: a fast
#: logging loop then has its points written while it runs (the database works on another
#: core), not all of them after it. A slow loop is flushed every ``flush_interval`` as before.
EARLY_LOOK = 0.01
EARLY_FLUSH_CALLS = 2_000

#: Points kept in memory while the database cannot be written (~100 bytes each).
MAX_PENDING = 10_000_000

#: Longest wait between two retries of a database that keeps failing.
MAX_BACKOFF = 5.0
#: Calls sent per part into a stream (see :meth:`MetricWriter._send`): the server starts
#: storing a part while the writer builds the next.
SEND_CALLS = 2048


#: Writers of this process with a stream, and the streams a forked child inherited: the
#: child never uses, closes or collects those (their connection is the parent's socket;
#: even the rollback a collected connection sends would reach the parent's transaction).
_STREAMING: weakref.WeakSet[MetricWriter] = weakref.WeakSet()
_INHERITED: list[Any] = []


def _keep_streams_in_child() -> None:
    for writer in list(_STREAMING):
        stream, writer._stream = writer._stream, None
        writer._streaming = False
        writer._sent = []  # the parent's: it commits them
        if stream is not None:
            _INHERITED.append(stream)
    _STREAMING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_keep_streams_in_child)


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
        on_rejected: Callable[[str, int], None] | None = None,
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
        #: Points not kept because more than MAX_PENDING were waiting for the database.
        self.points_dropped = 0
        #: Points under metric names refused at first sight (an empty name), per name.
        self.rejected: dict[str, int] = {}
        self._on_rejected = on_rejected
        self._known: set[str] = set()
        self.last_error: BaseException | None = None
        self._warned = False
        self._backoff = 0.0
        self._retry_at = 0.0
        # The Store's stream (PostgreSQL), opened at the first early send; the columns sent
        # into its open transaction, kept until it commits (to write again if it fails).
        self._stream: MetricStream | None = None
        self._streaming = True
        self._sent: list[Columns] = []

    def start(self) -> None:
        stream = self._open_stream()
        if stream is not None:
            stream.prepare()
        self._thread.start()

    def _loop(self) -> None:
        next_beat = time.monotonic() + self.heartbeat_interval
        next_tick = time.monotonic() + (self._tick_interval if self._on_tick else float("inf"))
        next_flush = time.monotonic() + self.flush_interval
        look = min(self.flush_interval, EARLY_LOOK)
        wait = look
        while not self._stop.wait(wait):
            wait = look
            now = time.monotonic()
            if now >= self._retry_at:
                if now >= next_flush:
                    self.flush(raise_errors=False)
                    now = time.monotonic()
                    next_flush = now + self.flush_interval
                elif len(self.buffer) >= EARLY_FLUSH_CALLS:
                    # A fast loop: send its points now. With a stream they join the open
                    # transaction, committed by next_flush at the latest; without one
                    # they are written (and committed) at once.
                    # If fewer than EARLY_FLUSH_CALLS come by the next look, the loop slowed
                    # down: the branch below commits then.
                    sent = self._send()
                    if sent and len(self.buffer) >= EARLY_FLUSH_CALLS:
                        wait = 0.0  # more came while sending: send again at once
                    elif not sent:
                        self.flush(raise_errors=False)
                        now = time.monotonic()
                        next_flush = now + self.flush_interval
                elif self._sent:
                    # The loop slowed down or ended: commit what the stream holds now.
                    self.flush(raise_errors=False)
                    now = time.monotonic()
                    next_flush = now + self.flush_interval
            if now >= next_tick and self._on_tick is not None:
                next_tick = now + self._tick_interval
                try:
                    self._on_tick()
                except Exception:  # system metrics must never take a run down
                    logger.debug("system metrics sample failed", exc_info=True)
            if now >= next_beat:
                next_beat = now + self.heartbeat_interval
                try:
                    with self._lock:  # see fork_lock
                        # The Store's clock (the database server's on PostgreSQL): ages
                        # are measured with it too, whatever this machine's clock says.
                        self.store.update_run(self.run_id, heartbeat_at=self.store.now())
                except Exception as e:
                    self._warn(e)

    def _take(self, limit: int | None = None) -> Columns:
        """Move the buffer (its first ``limit`` calls) into columns per key (plus anything a
        failed flush left).

        Works column by column with C-level helpers (``map``, ``itemgetter``) instead of a
        Python loop over points: this thread shares the GIL with the training loop.
        """
        pending = self._pending
        self._pending = {}
        n = len(self.buffer) if limit is None else min(limit, len(self.buffer))
        entries = list(itertools.starmap(self.buffer.popleft, itertools.repeat((), n)))
        columns: Columns = {}
        if entries:
            steps = list(map(_STEP, entries))
            times = list(map(_TIME, entries))
            if len(set(map(len, entries))) == 1:
                # The common case: every call logged the same names. Each entry holds as
                # many keys as the first; if it also holds each of the first's names (else
                # KeyError), it holds exactly them, and no set of all names is needed.
                try:
                    for key in entries[0]:
                        if type(key) is str:
                            columns[key] = (steps, list(map(itemgetter(key), entries)), times)
                except KeyError:
                    columns = {}
            if not columns:
                for key in set().union(*entries) - {STEP_KEY, TIME_KEY}:
                    try:
                        columns[key] = (steps, list(map(itemgetter(key), entries)), times)
                    except KeyError:
                        idx = [i for i, e in enumerate(entries) if key in e]
                        columns[key] = (
                            [steps[i] for i in idx],
                            [entries[i][key] for i in idx],
                            [times[i] for i in idx],
                        )
        if not columns.keys() <= self._known:
            self._check_new_keys(columns)
        if pending:
            for key, (st, va, ti) in columns.items():
                old = pending.get(key)
                pending[key] = (
                    (st, va, ti) if old is None else (old[0] + st, old[1] + va, old[2] + ti)
                )
            return pending
        return columns

    @property
    def fork_lock(self) -> threading.Lock:
        """Held by this thread whenever it is inside the database library. A fork waits for
        it, so that a child never starts with SQLite's internal mutexes held by a thread
        that does not exist there (its first database call would hang)."""
        return self._lock

    def _check_new_keys(self, columns: Columns) -> None:
        """Metric names seen for the first time: refuse empty ones (Run.log's fast path does
        not look at names; this runs once per name, in this thread)."""
        for key in columns.keys() - self._known:
            if key.strip():
                self._known.add(key)
                continue
            count = len(columns.pop(key)[0])
            self.rejected[key] = self.rejected.get(key, 0) + count
            if self._on_rejected is not None:
                self._on_rejected(key, count)

    def _send(self) -> bool:
        """Send the buffer into the Store's stream without committing (see
        :class:`~trialbook.store._stream.MetricStream`); False when there is no stream (then
        nothing was taken). A transaction that holds ``batch_points`` points is committed.
        A failure is not raised: the points go back to the queue, for :meth:`flush`."""
        with self._lock:
            stream = self._open_stream()
            if stream is None:
                return False
            # In parts, each sent as soon as it is built: the server stores one while this
            # thread builds the next. Only what is waiting now: the loop goes back to its
            # heartbeats and commits between two calls of this.
            todo = len(self.buffer)
            while todo > 0:
                columns = self._take(min(SEND_CALLS, todo))
                todo -= SEND_CALLS
                error = self._stream_write(stream, columns)
                if error is not None:
                    self._warn(error)
                    return True
                if stream.points >= self.store.batch_points:
                    self._commit_stream(raise_errors=False)
                    if self._stream is not stream:
                        return True  # the commit failed: its points are queued again
            return True

    def _stream_write(self, stream: MetricStream, columns: Columns) -> Exception | None:
        """Send ``columns`` into the stream's open transaction. On a failure the stream's
        points and these go back to the queue, and the error is returned (Ctrl-C and
        SIGTERM's ``SystemExit`` are raised once nothing is lost)."""
        try:
            stream.write(columns)
        except BaseException as e:
            self._stream_failed(columns)
            if not isinstance(e, Exception):
                raise
            return e
        self._sent.append(columns)
        return None

    def _open_stream(self) -> MetricStream | None:
        if self._stream is None and self._streaming:
            self._stream = self.store.metric_stream(self.run_id)
            self._streaming = self._stream is not None
            if self._stream is not None:
                _STREAMING.add(self)
        return self._stream

    def _stream_failed(self, columns: Columns | None = None) -> None:
        """The stream's transaction is gone: what it held goes back to the queue (before
        ``columns``, taken after it), to be written by :meth:`flush`'s transactions."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
        lost = [*self._sent, *([columns] if columns else [])]
        self._sent = []
        if lost:
            self._pending = self._bounded(_merge([*lost, self._pending]))

    def _commit_stream(self, raise_errors: bool) -> int:
        """Commit the stream's open transaction; return how many points it stored. On a
        failure its points go back to the queue (and the error is raised if asked)."""
        stream = self._stream
        if stream is None or not self._sent:
            return 0
        count = stream.points
        try:
            stream.commit()
        except BaseException as e:  # Ctrl-C or SIGTERM's SystemExit too: nothing is lost
            self._stream_failed()
            if raise_errors or not isinstance(e, Exception):
                raise
            self._warn(e)
            return 0
        self._sent = []
        self.points_written += count
        return count

    def flush(self, raise_errors: bool = True) -> int:
        """Write everything logged so far; return how many points were written."""
        with self._lock:
            stream = self._stream
            # With a stream, the rest goes into its open transaction, committed once with it.
            if stream is not None and self._stream_write(stream, self._take()) is None:
                try:
                    done = self._commit_stream(raise_errors=True)
                except Exception:
                    pass  # back in the queue: written below, with the Store's retries
                else:
                    self.last_error = None
                    self._backoff = 0.0
                    self._retry_at = 0.0
                    return done
            chunks = _chunks(self._take(), self.store.batch_points)
            written = 0
            for i, chunk in enumerate(chunks):
                try:
                    self.store.log_metric_columns(self.run_id, chunk)
                except BaseException as e:
                    # Keep what was not written; the next flush retries it.
                    self._pending = self._bounded(_merge(chunks[i:]))
                    self.points_written += written
                    if not isinstance(e, Exception):  # Ctrl-C, SIGTERM's SystemExit
                        raise
                    self.last_error = e
                    self._backoff = min(MAX_BACKOFF, max(2 * self._backoff, self.flush_interval))
                    self._retry_at = time.monotonic() + self._backoff
                    if raise_errors:
                        raise
                    self._warn(e)
                    return written
                written += sum(len(c[0]) for c in chunk.values())
            self.points_written += written
            self.last_error = None
            self._backoff = 0.0
            self._retry_at = 0.0
            return written

    def _bounded(self, columns: Columns) -> Columns:
        """Keep at most MAX_PENDING points (the oldest); count the rest as dropped."""
        room = MAX_PENDING
        for key, (st, va, ti) in list(columns.items()):
            if len(st) > room:
                self.points_dropped += len(st) - room
                if room:
                    columns[key] = (st[:room], va[:room], ti[:room])
                else:
                    del columns[key]
                if not self._dropped_warned:
                    self._dropped_warned = True
                    logger.error(
                        "trialbook: run %s: more than %d metric points are waiting for the "
                        "database; newer points are dropped (finish reports how many).",
                        self.run_id,
                        MAX_PENDING,
                    )
            room = max(0, room - len(st))
        return columns

    _dropped_warned = False

    def drain(self, retry_for: float) -> None:
        """Flush everything, retrying for up to ``retry_for`` seconds while the disk is full.

        Raises:
            Exception: the Store's error, when it is not a full disk or space did not come
                back in time; the points stay queued (see :meth:`dump_unwritten`).
        """
        deadline = time.monotonic() + retry_for
        while True:
            try:
                self.flush()
                with self._lock:
                    stream, self._stream = self._stream, None
                    if stream is not None:
                        stream.close()  # the run is finishing: give its connection back
                return
            except Exception as e:
                left = deadline - time.monotonic()
                if left <= 0 or not is_disk_full(e):
                    raise
                self._warn(e)
                time.sleep(min(left, 0.5))

    def _warn(self, error: BaseException) -> None:
        if not self._warned:
            self._warned = True
            if is_disk_full(error):
                logger.warning(
                    "trialbook: run %s: the disk holding the database is full; metric points "
                    "are kept in memory and retried until space comes back (%s).",
                    self.run_id,
                    error,
                )
            else:
                logger.warning(
                    "trialbook: writing run %s failed, will retry: %s", self.run_id, error
                )

    def stop(self) -> None:
        """Stop the thread (it finishes the flush it is in). Call :meth:`flush` after."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=30)

    def dump_unwritten(self, paths: Sequence[Path]) -> tuple[list[tuple[Path, int]], int]:
        """Save the points that could not be stored as JSONL lines (``key``, ``step``,
        ``value`` as text, ``time``), filling ``paths`` in turn: when the first is on a full
        disk, what does not fit goes to the next. Only whole lines are kept in each file.

        Returns ``([(path, points saved there), ...], points lost)``; the lost count includes
        points dropped earlier because too many were waiting (:data:`MAX_PENDING`).
        """
        with self._lock:
            self._stream_failed()  # what its open transaction held is not stored
            columns = self._take()
            lines = [
                (
                    json.dumps({"key": key, "step": step, "value": repr(value), "time": at}) + "\n"
                ).encode()
                for key, (steps, values, times) in columns.items()
                for step, value, at in zip(steps, values, times, strict=True)
            ]
            saved: list[tuple[Path, int]] = []
            done = 0
            for path in paths:
                if done == len(lines):
                    break
                count = _append_lines(path, lines[done:])
                if count:
                    saved.append((path, count))
                    done += count
            return saved, len(lines) - done + self.points_dropped

    def stats(self) -> dict[str, Any]:
        return {"points_written": self.points_written, "queued": len(self.buffer)}


def _append_lines(path: Path, lines: Sequence[bytes]) -> int:
    """Append ``lines`` to ``path``; return how many were written whole (a full disk stops
    it, and the partial line is cut off). The file is fsynced."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    except OSError:
        return 0
    done = 0
    try:
        good = os.fstat(fd).st_size
        step = 1024
        while done < len(lines):
            block = b"".join(lines[done : done + step])
            view = memoryview(block)
            try:
                while view:
                    view = view[os.write(fd, view) :]
            except OSError:
                if step == 1:
                    break
                # Write what fits line by line from the last whole line on.
                os.ftruncate(fd, good)
                step = 1
                continue
            good += len(block)
            done += min(step, len(lines) - done)
        os.ftruncate(fd, good)
        with contextlib.suppress(OSError):
            os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    if done == 0:
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                path.unlink()  # no 0-byte rescue file that looks like "nothing was lost"
    return done


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
