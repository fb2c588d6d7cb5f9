"""Following a run while it writes: its log files read by byte offset (:func:`read_log`) and
its new metric points, log text and status as they arrive (:func:`follow_run`).

``trialbook tail`` and the dashboard's log and live endpoints read through these two, so a
byte offset or a "points after step N" means the same thing everywhere.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeAlias

from trialbook._types import FINISHED_STATUSES
from trialbook.errors import TrialbookError

if TYPE_CHECKING:
    from trialbook._types import RunStatus
    from trialbook.store import Store

__all__ = [
    "LOG_STREAMS",
    "MAX_LOG_READ",
    "LogChunk",
    "LogStream",
    "MetricPoint",
    "RunUpdate",
    "follow_run",
    "read_log",
]

#: A run's captured output: ``stdout.log`` or ``stderr.log`` in its folder (written when the
#: Runner started the run).
LogStream: TypeAlias = Literal["stdout", "stderr"]
LOG_STREAMS: tuple[LogStream, ...] = ("stdout", "stderr")

#: The most bytes one :func:`read_log` call returns.
MAX_LOG_READ = 1 << 20


@dataclass(frozen=True)
class LogChunk:
    """Text read from one of a run's log files.

    ``start`` is the byte offset the text begins at and ``offset`` the byte offset just after
    it (pass it back as ``offset`` to read what comes next); ``size`` is the file's size when
    it was read (0 when the file does not exist). The text never ends inside a UTF-8
    character: a character cut by ``limit`` is left for the next read.
    """

    stream: LogStream
    text: str
    start: int
    offset: int
    size: int


def read_log(
    folder: str | os.PathLike[str],
    stream: str,
    offset: int = -1,
    limit: int = 65536,
) -> LogChunk:
    """Read up to ``limit`` bytes of a run's ``stdout.log`` or ``stderr.log``.

    ``offset=-1`` reads the last ``limit`` bytes (a tail, starting at a character boundary);
    any other offset reads from that byte on. An offset past the end (the file was replaced)
    reads nothing and returns ``offset == size``. A missing file reads as empty.

    Raises:
        TrialbookError: ``stream`` is not stdout or stderr, ``offset`` is below -1, or
            ``limit`` is not between 1 and :data:`MAX_LOG_READ` (each names its parameter).
    """
    if stream not in LOG_STREAMS:
        raise TrialbookError(
            f"stream must be stdout or stderr, got {stream!r}.", parameter="stream", value=stream
        )
    if offset < -1:
        raise TrialbookError(
            f"offset must be -1 (the tail) or a byte offset >= 0, got {offset}.",
            parameter="offset",
            value=offset,
        )
    if not 1 <= limit <= MAX_LOG_READ:
        raise TrialbookError(
            f"limit must be between 1 and {MAX_LOG_READ} bytes, got {limit}.",
            parameter="limit",
            value=limit,
        )
    name: LogStream = "stdout" if stream == "stdout" else "stderr"
    path = Path(folder) / f"{name}.log"
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = max(size - limit, 0) if offset == -1 else min(offset, size)
            f.seek(start)
            data = f.read(min(limit, size - start))
    except FileNotFoundError:
        return LogChunk(name, "", 0, 0, 0)
    if offset == -1:
        # A tail may begin inside a character: skip its continuation bytes.
        skip = 0
        while skip < min(len(data), 3) and data[skip] & 0xC0 == 0x80:
            skip += 1
        data = data[skip:]
        start += skip
    data = data[: _complete_prefix(data)]
    return LogChunk(name, data.decode("utf-8", errors="replace"), start, start + len(data), size)


def _complete_prefix(data: bytes) -> int:
    """The length of ``data`` without a UTF-8 character cut at its end."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        byte = data[n - back]
        if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the lead
            continue
        if byte < 0x80:
            return n
        need = 2 if byte >= 0xC0 and byte < 0xE0 else 3 if byte < 0xF0 else 4
        return n if back >= need else n - back
    return n


@dataclass(frozen=True)
class MetricPoint:
    """One logged metric value: ``time`` in seconds since the epoch."""

    key: str
    step: int
    value: float
    time: float


@dataclass(frozen=True)
class RunUpdate:
    """What a run wrote since the previous update of a :func:`follow_run`: its new metric
    points (by step, then key), its new log text, and its status now. ``finished`` is True
    on the last update, once the run has ended and everything it wrote has been read."""

    status: RunStatus
    points: tuple[MetricPoint, ...]
    logs: tuple[LogChunk, ...]
    finished: bool


def follow_run(
    store: Store,
    run_id: str,
    *,
    metrics: bool = True,
    logs: bool = True,
    keys: Sequence[str] | None = None,
    follow: bool = True,
    interval: float = 0.5,
    from_start: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[RunUpdate]:
    """Updates of a run as it writes: new metric points and log text, every ``interval``
    seconds, until the run has ended (then one last update with ``finished=True``).

    ``follow=False`` yields one update with what is there now and stops. ``from_start=False``
    skips what was written before the call (points and log text), as ``tail -f`` does.
    ``keys`` limits the metrics followed (default: every key, including ones that appear
    later). A point is new when its step is above the last step seen for its key, so a
    point logged later at an older step is not reported. The first update holds what was
    there at the call (possibly nothing); later ones are yielded only when something is new
    (and once more at the end).

    Raises:
        RunNotFoundError: no run has id ``run_id``.
        TrialbookError: ``interval`` is not positive.
    """
    if not interval > 0:
        raise TrialbookError(
            f"interval must be a positive number of seconds, got {interval}.",
            parameter="interval",
            value=interval,
        )
    record = store.get_run(run_id)
    folder = record.folder
    seen_steps: dict[str, int] = {}
    seen_counts: dict[str, int] = {}
    log_offsets: dict[LogStream, int] = {s: 0 for s in LOG_STREAMS}
    wanted = None if keys is None else list(keys)
    if not from_start:
        if metrics:  # what is there now counts as seen: no history is read
            for key, summary in (
                store.metric_summaries([record.id], wanted).get(record.id, {}).items()
            ):
                seen_steps[key] = summary.last_step
                seen_counts[key] = summary.count
        if logs and folder:
            for s in LOG_STREAMS:
                log_offsets[s] = _log_size(folder, s)
    first = True
    while True:
        # Read the status first: what the run wrote before ending is then read below. (A
        # queued run gets its folder when a process claims it.)
        current = store.get_run(record.id)
        status, folder = current.status, current.folder or folder
        ended = status in FINISHED_STATUSES
        points = _new_points(store, record.id, wanted, seen_steps, seen_counts) if metrics else []
        chunks: list[LogChunk] = []
        if logs and folder:
            for s in LOG_STREAMS:
                while True:
                    chunk = read_log(folder, s, log_offsets[s], MAX_LOG_READ)
                    log_offsets[s] = chunk.offset
                    if chunk.text:
                        chunks.append(chunk)
                    if chunk.offset >= chunk.size or chunk.offset == chunk.start:
                        break
        last = ended or not follow
        if points or chunks or last or first:
            yield RunUpdate(status, tuple(points), tuple(chunks), last)
        first = False
        if last:
            return
        sleep(interval)


def _new_points(
    store: Store,
    run_id: str,
    keys: list[str] | None,
    seen_steps: dict[str, int],
    seen_counts: dict[str, int],
) -> list[MetricPoint]:
    """Points above the last step seen per key; a key is read only when its count of
    points changed, and then only its points after the last step seen (an index seek, so a
    poll costs what is new, not the whole history)."""
    summaries = store.metric_summaries([run_id], keys).get(run_id, {})
    points: list[MetricPoint] = []
    for key in sorted(summaries):
        count = summaries[key].count
        if seen_counts.get(key) == count:
            continue
        seen_counts[key] = count
        after = seen_steps.get(key)
        history = (
            store.metric_history(run_id, key)
            if after is None
            else store.metric_history_after(run_id, key, after)
        )
        for step, value, t in zip(history.steps, history.values, history.times, strict=True):
            points.append(MetricPoint(key, step, value, t))
        if history.steps:
            seen_steps[key] = max(history.steps[-1], after if after is not None else -(2**62))
    points.sort(key=lambda p: (p.step, p.key))
    return points


def _log_size(folder: str, stream: LogStream) -> int:
    try:
        return (Path(folder) / f"{stream}.log").stat().st_size
    except OSError:
        return 0
