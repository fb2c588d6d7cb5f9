"""One run's API: its document, metric list, curves, evaluated samples, data map, files,
stdout/stderr and a live event stream.

Every endpoint takes ``{ref}`` as :meth:`trialbook.store.Store.get_run` reads it (full id,
unique prefix, short id or unique name); an unknown run is a 404. Numbers that are NaN or
infinite are sent as null. The data comes from the library: the run document
(:func:`trialbook.store.run_document`), curves (:func:`trialbook.analysis.read_curve`), samples
(:meth:`trialbook.store.Store.evaluation_samples`), config differences
(:func:`trialbook.analysis.differing_config`), training dynamics
(:func:`trialbook.cartography.cartography_metrics`) and logs
(:func:`trialbook.tracking.read_log`).
"""

from __future__ import annotations

import asyncio
import json
import math
import mimetypes
from collections.abc import AsyncIterator, Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict

from trialbook.dashboard._state import State
from trialbook.errors import RunNotFoundError, TrialbookError

if TYPE_CHECKING:
    from trialbook.store import RunRecord, Store

__all__ = ["finite", "router"]

router = APIRouter(tags=["run"])


#: The most keys a list of metric keys returns.
MAX_KEYS = 200
#: Points a curve may be drawn with (after downsampling).
MIN_POINTS, MAX_POINTS = 2, 5000
#: ``after_step``: a step the database can hold (64-bit), with room for the next one.
AfterStep = Annotated[
    int | None,
    Query(ge=-(2**62), le=2**62, description="Only the points after this step."),
]
#: The most bytes one log read returns.
MAX_LOG_BYTES = 1 << 20
#: How often the event stream looks for new points and log bytes (seconds).
POLL_SECONDS = 0.5
#: The most metric keys one event stream follows.
MAX_STREAM_KEYS = 20
#: Every how many polls an event stream following every metric looks for new keys. Every
#: poll: it stops looking once it follows MAX_STREAM_KEYS, so the read stays small.
KEY_REFRESH_POLLS = 1
#: How long one event stream lasts at most (seconds); the page reconnects after.
MAX_STREAM_SECONDS = 3600.0
#: Files shown inline (images); everything else is sent as an attachment. SVG is not here:
#: it can carry scripts.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (lists, tuples and
    mappings copied), as the API sends numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _floats(values: Any) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def _run(store: Store, ref: str) -> RunRecord:
    return store.get_run(ref)


# --------------------------------------------------------------------------- the document
class RunFile(BaseModel):
    """A checkpoint or artifact: ``path`` relative to the run folder (fetch it from
    ``/api/runs/{ref}/files/{path}``; null when the file is outside the folder), and whether
    it is an image shown inline."""

    path: str | None
    name: str
    size: int | None
    kind: str | None
    step: int | None = None
    image: bool


class RunFiles(BaseModel):
    checkpoints: list[RunFile]
    artifacts: list[RunFile]


class RunDocumentOut(BaseModel):
    """The run document of ``trialbook show --json`` (times there as ISO 8601 text), plus
    ``timestamps`` (the same times as seconds since the epoch), ``config_yaml``, ``folder``
    and ``files`` (the run's checkpoints and artifacts, as paths inside its folder)."""

    model_config = ConfigDict(extra="allow")

    id: str
    short_id: str
    name: str
    experiment: str
    status: str
    config_yaml: str
    folder: str | None
    files: RunFiles
    timestamps: dict[str, float | None]


def _relative(folder: str | None, path: str) -> str | None:
    """``path`` relative to the run folder when it is inside it, else None."""
    if not folder:
        return None
    base = Path(folder).resolve()
    p = Path(path)
    target = (p if p.is_absolute() else base / p).resolve()
    if not target.is_relative_to(base):
        return None
    return target.relative_to(base).as_posix()


def _file(
    folder: str | None, path: str, size: int | None, kind: str | None, step: int | None
) -> RunFile:
    rel = _relative(folder, path)
    media, _ = mimetypes.guess_type(path)
    return RunFile(
        path=rel,
        name=Path(path).name,
        size=size,
        kind=kind,
        step=step,
        image=media in INLINE_TYPES,
    )


@router.get("/runs/{ref}", response_model=RunDocumentOut)
def get_run(ref: str, state: State) -> dict[str, Any]:
    """One run as ``trialbook show --json`` prints it, with its config as YAML and its files."""
    import yaml

    from trialbook.store import load_details, run_document

    store = state.store
    record = _run(store, ref)
    details = load_details(store, record)
    doc: dict[str, Any] = finite(run_document(details))
    doc["config_yaml"] = (
        yaml.safe_dump(dict(record.config), sort_keys=False, allow_unicode=True)
        if record.config
        else ""
    )
    doc["folder"] = record.folder
    doc["files"] = {
        "checkpoints": [
            _file(record.folder, c.path, c.size, "checkpoint", c.step) for c in details.checkpoints
        ],
        "artifacts": [
            _file(record.folder, a.path, a.size, a.kind, None) for a in details.artifacts
        ],
    }
    doc["timestamps"] = finite(
        {
            "started_at": record.started_at,
            "ended_at": record.ended_at,
            "heartbeat_at": record.heartbeat_at,
        }
    )
    return doc


# --------------------------------------------------------------------------- metrics
class MetricInfo(BaseModel):
    key: str
    last: float | None
    min: float | None
    max: float | None
    count: int
    last_step: int | None
    system: bool


class MetricList(BaseModel):
    """The run's metric keys matching ``q`` (at most ``limit``, sorted) and how many match."""

    total: int
    metrics: list[MetricInfo]


#: The prefix tracking gives the metrics it samples about the machine (CPU, memory, GPU).
SYSTEM_PREFIX = "system/"


@router.get("/runs/{ref}/metrics", response_model=MetricList)
def get_metrics(
    ref: str,
    state: State,
    q: str = "",
    limit: Annotated[int, Query(ge=1, le=MAX_KEYS)] = MAX_KEYS,
) -> MetricList:
    """The run's metrics with their last, min, max, count and last step; ``q`` keeps the keys
    containing it (case-insensitive)."""
    store = state.store
    record = _run(store, ref)
    summaries = store.metric_summaries([record.id]).get(record.id, {})
    needle = q.casefold()
    keys = sorted(k for k in summaries if needle in k.casefold())
    return MetricList(
        total=len(keys),
        metrics=[
            MetricInfo(
                key=k,
                last=finite(summaries[k].last),
                min=finite(summaries[k].min),
                max=finite(summaries[k].max),
                count=summaries[k].count,
                last_step=summaries[k].last_step,
                system=k.startswith(SYSTEM_PREFIX),
            )
            for k in keys[:limit]
        ],
    )


# --------------------------------------------------------------------------- history
class History(BaseModel):
    """One metric of one run on the chosen x axis, downsampled to at most ``points`` buckets:
    ``y`` the last value of each bucket, ``y_min``/``y_max`` its envelope. ``total`` is the
    number of points read (after ``after_step``), ``last_step`` the run's last step of the key
    (ask ``after_step=last_step`` next time for only the newer points)."""

    run_id: str
    key: str
    x_axis: str
    x: list[float | None]
    y: list[float | None]
    y_min: list[float | None]
    y_max: list[float | None]
    total: int
    sampled: bool
    last_step: int | None
    status: str


def _check_key(store: Store, record: RunRecord, key: str) -> None:
    """An unknown key is a 422 naming the close keys, except while the run may still log it."""
    if record.status in ("running", "queued"):
        return
    if key in store.metric_summaries([record.id], [key]).get(record.id, {}):
        return
    import difflib

    summaries = store.metric_summaries([record.id]).get(record.id, {})
    close = difflib.get_close_matches(key, list(summaries), n=3)
    hint = (
        f"did you mean {', '.join(repr(c) for c in close)}?"
        if close
        else f"it has {len(summaries)} metric keys (see /api/runs/{{ref}}/metrics)."
    )
    raise TrialbookError(
        f"Run {record.short_id} has no metric {key!r}; {hint}", parameter="key", value=key
    )


@router.get("/runs/{ref}/history", response_model=History)
def get_history(
    ref: str,
    key: str,
    state: State,
    x: Literal["step", "time", "relative"] = "step",
    points: Annotated[int, Query(ge=MIN_POINTS, le=MAX_POINTS)] = 1000,
    after_step: AfterStep = None,
) -> History:
    """One metric's curve (:func:`trialbook.analysis.read_curve`). A key the run does not have
    is a 422, unless the run is still running or queued (then the curve is empty)."""
    from trialbook.analysis import read_curve

    store = state.store
    record = _run(store, ref)
    _check_key(store, record, key)
    curve = read_curve(store, record.id, key, x=x, max_points=points, after_step=after_step)
    p = curve.points
    return History(
        run_id=record.id,
        key=key,
        x_axis=curve.x_axis,
        x=_floats(p.x),
        y=_floats(p.y),
        y_min=_floats(p.y_min),
        y_max=_floats(p.y_max),
        total=p.total,
        sampled=p.sampled,
        last_step=curve.last_step,
        status=record.status,
    )


# --------------------------------------------------------------------------- samples
class SampleRow(BaseModel):
    index: int
    id: str
    input: str
    prediction: str | None
    reference: str | None
    correct: bool | None
    score: float | None
    extra: dict[str, Any]


class SamplePage(BaseModel):
    """One page of the per-sample results of the run's latest evaluation on ``benchmark``
    (``benchmarks``: every benchmark the run was evaluated on; ``total``: rows matching the
    filter and search)."""

    benchmarks: list[str]
    benchmark: str
    total: int
    rows: list[SampleRow]


@router.get("/runs/{ref}/samples", response_model=SamplePage)
def get_samples(
    ref: str,
    state: State,
    benchmark: str = "",
    filter: Literal["all", "wrong", "right"] = "all",
    q: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> SamplePage:
    """Per-sample results: ``filter`` wrong/right keeps samples with that correctness, ``q``
    keeps those whose id, input, prediction or reference contains it (case-insensitive).
    Without ``benchmark`` the first benchmark (alphabetically) is shown; one the run was not
    evaluated on is a 404."""
    from trialbook.analysis import sample_input
    from trialbook.store import latest_by_benchmark

    store = state.store
    record = _run(store, ref)
    benchmarks = sorted(latest_by_benchmark(store.evaluations(record.id)))
    if not benchmark:
        if not benchmarks:
            return SamplePage(benchmarks=[], benchmark="", total=0, rows=[])
        benchmark = benchmarks[0]
    samples = store.evaluation_samples(record.id, benchmark)
    needle = q.casefold()
    rows: list[tuple[int, str]] = []
    for i, s in enumerate(samples):
        if filter == "wrong" and s.correct is not False:
            continue
        if filter == "right" and s.correct is not True:
            continue
        text = sample_input(s)
        if needle and not any(
            needle in (v or "").casefold() for v in (s.sample_id, text, s.prediction, s.reference)
        ):
            continue
        rows.append((i, text))
    page = rows[offset : offset + limit]
    return SamplePage(
        benchmarks=benchmarks,
        benchmark=benchmark,
        total=len(rows),
        rows=[
            SampleRow(
                index=i,
                id=samples[i].sample_id,
                input=text,
                prediction=samples[i].prediction,
                reference=samples[i].reference,
                correct=samples[i].correct,
                score=finite(samples[i].score),
                extra=finite(dict(samples[i].extra)),
            )
            for i, text in page
        ],
    )


# --------------------------------------------------------------------------- data map
class DataMapPoint(BaseModel):
    id: str
    confidence: float | None
    variability: float | None
    correctness: float | None
    text: str | None
    label: Any = None


class DataMap(BaseModel):
    """The cartography data map of the run's training dynamics (``available`` False when it
    recorded none); at most ``limit`` points of ``total``. ``text``/``label`` come from the
    run's evaluated samples with the same id, when there are any."""

    available: bool
    total: int
    points: list[DataMapPoint]


@router.get("/runs/{ref}/dynamics", response_model=DataMap)
def get_dynamics(
    ref: str,
    state: State,
    limit: Annotated[int, Query(ge=1, le=20_000)] = 5000,
) -> DataMap:
    """Confidence, variability and correctness per training example
    (:func:`trialbook.cartography.cartography_metrics` of the run's training_dynamics.jsonl)."""
    from trialbook.analysis import sample_input
    from trialbook.cartography import cartography_metrics
    from trialbook.reporting import find_training_dynamics
    from trialbook.store import latest_by_benchmark

    store = state.store
    record = _run(store, ref)
    path = find_training_dynamics(record, store)
    if path is None:
        return DataMap(available=False, total=0, points=[])
    table = cartography_metrics(path)
    texts: dict[str, tuple[str, Any]] = {}
    for ev in latest_by_benchmark(store.evaluations(record.id)).values():
        for s in store.samples(ev.id):
            texts.setdefault(s.sample_id, (sample_input(s), s.reference))
    points = []
    for row in table.head(limit).itertuples(index=False):
        text, label = texts.get(str(row.id), (None, None))
        points.append(
            DataMapPoint(
                id=str(row.id),
                confidence=finite(float(row.confidence)),
                variability=finite(float(row.variability)),
                correctness=finite(float(row.correctness)),
                text=text or None,
                label=label,
            )
        )
    return DataMap(available=True, total=len(table), points=points)


# --------------------------------------------------------------------------- files
def _inside(folder: str | None, path: str) -> Path:
    """The file ``path`` names inside the run folder, or a 404: absolute paths, ``..``,
    and anything resolving (through symlinks) outside the folder are refused."""
    missing = RunNotFoundError(f"No file {path!r} in the run folder.", parameter="path", value=path)
    if not folder or not path or "\\" in path or "\x00" in path:
        raise missing
    rel = PurePosixPath(path)
    if rel.is_absolute() or ".." in rel.parts:
        raise missing
    base = Path(folder).resolve()
    target = (base / rel).resolve()
    if not target.is_relative_to(base) or target == base or not target.is_file():
        raise missing
    return target


@router.get("/runs/{ref}/files/{path:path}", response_class=FileResponse)
def get_file(ref: str, path: str, state: State) -> FileResponse:
    """A file inside the run folder (a checkpoint, an artifact, any file there): images
    inline, everything else as an attachment; anything outside the folder is a 404."""
    record = _run(state.store, ref)
    target = _inside(record.folder, path)
    media, _ = mimetypes.guess_type(target.name)
    media = media or "application/octet-stream"
    return FileResponse(
        target,
        media_type=media,
        filename=target.name,
        content_disposition_type="inline" if media in INLINE_TYPES else "attachment",
    )


# --------------------------------------------------------------------------- logs
class LogChunk(BaseModel):
    """Text of the run's stdout or stderr: ``offset`` is the byte offset just after ``text``
    (ask from there next time), ``size`` the file's size, ``done`` whether the run ended."""

    stream: str
    text: str
    offset: int
    size: int
    done: bool


def _read_log(folder: str | None, stream: str, offset: int, limit: int) -> tuple[str, int, int]:
    from trialbook.tracking import read_log

    if not folder:
        return "", 0, 0
    chunk = read_log(folder, stream, offset=offset, limit=limit)
    return chunk.text, chunk.offset, chunk.size


@router.get("/runs/{ref}/logs", response_model=LogChunk)
def get_logs(
    ref: str,
    state: State,
    stream: Literal["stdout", "stderr"] = "stdout",
    offset: Annotated[int, Query(ge=-1)] = -1,
    limit: Annotated[int, Query(ge=1, le=MAX_LOG_BYTES)] = 65536,
) -> LogChunk:
    """The run's ``stdout.log`` / ``stderr.log``: ``offset=-1`` the last ``limit`` bytes, else
    up to ``limit`` bytes from that byte offset (cut at a character boundary). A run without
    the file has empty text."""
    from trialbook.store import FINISHED_STATUSES

    record = _run(state.store, ref)
    text, end, size = _read_log(record.folder, stream, offset, limit)
    return LogChunk(
        stream=stream, text=text, offset=end, size=size, done=record.status in FINISHED_STATUSES
    )


# --------------------------------------------------------------------------- config diff
class ConfigDifference(BaseModel):
    key: str
    a: Any
    b: Any


class ConfigDiff(BaseModel):
    """The flattened config keys whose values differ (``a``: this run, ``b``: ``other``;
    null where a run lacks the key)."""

    differences: list[ConfigDifference]


@router.get("/runs/{ref}/config-diff", response_model=ConfigDiff)
def get_config_diff(ref: str, other: str, state: State) -> ConfigDiff:
    """Config differences between two runs (:func:`trialbook.analysis.differing_config`)."""
    from trialbook.analysis import Entry, differing_config

    store = state.store
    a, b = _run(store, ref), _run(store, other)
    entries = [Entry(ref, "run", (a,), a.group_key), Entry(other, "run", (b,), b.group_key)]
    diff = differing_config(entries, store) if a.id != b.id else {}
    return ConfigDiff(
        differences=[
            ConfigDifference(key=k, a=finite(v[0]), b=finite(v[1])) for k, v in diff.items()
        ]
    )


# --------------------------------------------------------------------------- events
def _sse(event: str, data: Mapping[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(finite(data), separators=(',', ':'))}\n\n"


class _Follower:
    """What one event stream has sent: the last step per key and the log offsets."""

    def __init__(
        self, store: Store, record: RunRecord, keys: list[str], after_step: int | None
    ) -> None:
        self.store = store
        self.run_id = record.id
        self.folder = record.folder
        self.status = record.status
        self.after_step = after_step
        self.follow_all = not keys
        self.keys = keys[:MAX_STREAM_KEYS]
        self.steps: dict[str, int | None] = {}
        self.polls = 0
        self._add_keys(store.metric_summaries([record.id]).get(record.id, {}))
        self.offsets = {s: _log_size(self.folder, s) for s in ("stdout", "stderr")}

    def _add_keys(self, summaries: Mapping[str, Any]) -> None:
        """Follow the keys asked for, or (none asked for) every key but the system ones, up
        to :data:`MAX_STREAM_KEYS`. A key known when the stream opens starts after
        ``after_step`` (by default its last step then); one that appears later, from its
        first point."""
        if self.follow_all:
            fresh = sorted(k for k in summaries if not k.startswith(SYSTEM_PREFIX))
            self.keys = list(dict.fromkeys([*self.keys, *fresh]))[:MAX_STREAM_KEYS]
        for k in self.keys:
            if k not in self.steps:
                if self.polls:  # a key that appeared since the stream opened
                    self.steps[k] = None
                elif self.after_step is not None:
                    self.steps[k] = self.after_step
                else:
                    self.steps[k] = _last(summaries.get(k))

    def poll(self) -> list[str]:
        """The events since the last poll (blocking reads; run in a thread)."""
        from trialbook.analysis import read_curve
        from trialbook.store import FINISHED_STATUSES

        out: list[str] = []
        record = self.store.get_run(self.run_id)
        self.polls += 1
        if (
            self.follow_all
            and len(self.keys) < MAX_STREAM_KEYS
            and self.polls % KEY_REFRESH_POLLS == 0
        ):
            # Pick up the metrics the run started logging since.
            self._add_keys(self.store.metric_summaries([self.run_id]).get(self.run_id, {}))
        summaries = self.store.metric_summaries([self.run_id], self.keys).get(self.run_id, {})
        for key in self.keys:
            s = summaries.get(key)
            sent = self.steps[key]
            if s is None or (sent is not None and s.last_step <= sent):
                continue
            curve = read_curve(self.store, self.run_id, key, max_points=MAX_POINTS, after_step=sent)
            if curve.points.total:
                out.append(
                    _sse(
                        "points",
                        {
                            "key": key,
                            "x": list(curve.points.x),
                            "y": list(curve.points.y),
                            "last_step": curve.last_step,
                        },
                    )
                )
            self.steps[key] = curve.last_step
        for stream, offset in self.offsets.items():
            text, end, _ = _read_log(self.folder, stream, offset, MAX_LOG_BYTES)
            if text:
                out.append(_sse("log", {"stream": stream, "text": text, "offset": end}))
            self.offsets[stream] = end
        if record.status != self.status:
            self.status = record.status
            out.append(_sse("status", {"status": record.status}))
        self.done = record.status in FINISHED_STATUSES
        return out

    done = False


def _last(summary: Any) -> int | None:
    return None if summary is None else int(summary.last_step)


def _log_size(folder: str | None, stream: str) -> int:
    if not folder:
        return 0
    try:
        return (Path(folder) / f"{stream}.log").stat().st_size
    except OSError:
        return 0


@router.get("/runs/{ref}/events", response_class=StreamingResponse)
async def get_events(
    ref: str,
    request: Request,
    state: State,
    key: Annotated[list[str] | None, Query()] = None,
    after_step: AfterStep = None,
) -> StreamingResponse:
    """Server-sent events of a live run: ``points`` (``{"key","x","y","last_step"}``, steps
    after the last one sent; ``after_step`` sets where to start, by default the run's current
    last step), ``log`` (``{"stream","text","offset"}``, bytes written to stdout/stderr since
    the stream opened) and ``status`` (``{"status"}``: first the run's status, then every
    change). ``key`` (repeatable, at most 20) chooses the metrics; by default every metric but
    the system ones (up to 20; one the run starts logging later is picked up at the next
    poll, with all its points). The store is polled every 0.5 s; the stream ends after the
    run ends, when the client disconnects, or after an hour (reconnect then)."""
    from starlette.concurrency import run_in_threadpool

    store = state.store
    record = await run_in_threadpool(_run, store, ref)
    follower = await run_in_threadpool(_Follower, store, record, list(key or []), after_step)

    async def events() -> AsyncIterator[str]:
        yield _sse("status", {"status": follower.status})
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MAX_STREAM_SECONDS
        while loop.time() < deadline:
            for event in await run_in_threadpool(follower.poll):
                yield event
            if follower.done or await request.is_disconnected():
                return
            await asyncio.sleep(POLL_SECONDS)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
