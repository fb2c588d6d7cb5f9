"""trialbook side of the benchmark: ``python bench/_trialbook_side.py BENCH 'JSON-ARGS'``.

Runs use the default SQLite workspace store under a fresh temporary ``root`` for every
measurement, with ``system_metrics=False`` (the sampler thread is not what is measured).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    QUERY_LOSS_BELOW,
    QUERY_LR,
    RunSpec,
    expected_matches,
    make_step,
    measure_overhead,
    median,
    run_specs,
    worker_main,
)

REPO = Path(__file__).resolve().parent.parent


def start(root: Path, **extra: Any) -> Any:
    """A benchmark run (no system metrics sampler: it is not what is measured)."""
    import trialbook

    return trialbook.start_run(
        experiment="bench",
        config={"lr": 1e-3},
        seed=0,
        root=root,
        system_metrics=False,
        **extra,
    )


def _logger(run: Any, metrics: int) -> Any:
    log = run.log
    if metrics == 1:

        def log1(i: int, v: float) -> None:
            log({"loss": v}, step=i)

        return log1

    def log3(i: int, v: float) -> None:
        log({"loss": v, "acc": 1.0 - v, "lr": 1e-3}, step=i)

    return log3


# ------------------------------------------------------------------ 1 + 2: logging
def logging_script(run: Any, n: int, metrics: int) -> tuple[float, float]:
    """The logging script every logging bench times (this one and ``bench/postgres.py``):
    ``n`` calls of ``run.log`` with ``metrics`` metrics each inside ``with run:``. Returns
    (seconds in the loop, seconds from the first call until the run was left)."""
    log = run.log
    with run:
        # The loops are written out as a user would, so no wrapper call is timed.
        if metrics == 1:
            t0 = time.perf_counter()
            for i in range(n):
                log({"loss": i * 1e-3}, step=i)
        else:
            t0 = time.perf_counter()
            for i in range(n):
                v = i * 1e-3
                log({"loss": v, "acc": 1.0 - v, "lr": 1e-3}, step=i)
        t_loop = time.perf_counter() - t0
    return t_loop, time.perf_counter() - t0


def check_stored(run_id: str, n: int, root: Path, store_url: str | None = None) -> None:
    """Raise unless the run completed with all ``n`` points of "loss" stored."""
    import trialbook

    store = trialbook.open_store(root=root, store_url=store_url)
    try:
        stored = len(store.metric_history(run_id, "loss"))
        status = store.get_run(run_id).status
    finally:
        store.close()
    if stored != n or status != "completed":
        raise RuntimeError(f"trialbook stored {stored} of {n} 'loss' points, status {status}")


def _one_logging_run(
    metrics: int, n: int, workdir: Path, writer_idle: bool = False
) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(dir=workdir))
    # writer_idle: the writer thread sleeps through the loop, so the loop shows Run.log's own
    # cost without the GIL time the writer's flushes take from it (no early flush either:
    # see trialbook.tracking._writer.EARLY_FLUSH_CALLS).
    if writer_idle:
        from trialbook.tracking import _writer

        early, _writer.EARLY_FLUSH_CALLS = _writer.EARLY_FLUSH_CALLS, sys.maxsize
        try:
            run = start(root, flush_interval=3600.0)
            t_loop, t_total = logging_script(run, n, metrics)
        finally:
            _writer.EARLY_FLUSH_CALLS = early
    else:
        run = start(root)
        t_loop, t_total = logging_script(run, n, metrics)
    check_stored(run.id, n, root)
    shutil.rmtree(root, ignore_errors=True)
    points = n * metrics
    return {
        "caller_us_per_point": t_loop / points * 1e6,
        "durable_points_per_s": points / t_total,
        "loop_s": t_loop,
        "total_s": t_total,
    }


def log(args: dict[str, Any]) -> dict[str, Any]:
    """Log ``n`` calls of ``metrics`` metrics each; time the loop, then until durable."""
    workdir = Path(args["workdir"])
    metrics = args["metrics"]
    _one_logging_run(metrics, min(1000, args["n"]), workdir)  # warm-up: lazy imports, caches
    reps = [_one_logging_run(metrics, args["n"], workdir) for _ in range(args["repeats"])]
    idle = [_one_logging_run(metrics, args["n"], workdir, True) for _ in range(args["repeats"])]
    return {
        "caller_us_per_point": median([r["caller_us_per_point"] for r in reps]),
        "durable_points_per_s": median([r["durable_points_per_s"] for r in reps]),
        "caller_us_per_point_writer_idle": median([r["caller_us_per_point"] for r in idle]),
        "durable_points_per_s_writer_idle": median([r["durable_points_per_s"] for r in idle]),
        "points": args["n"] * metrics,
        "calls": args["n"],
        "repeats": reps,
    }


# ------------------------------------------------------------------ 3: training-loop overhead
def overhead(args: dict[str, Any]) -> dict[str, Any]:
    workdir = Path(args["workdir"])
    _one_logging_run(3, 1000, workdir)  # warm-up of the logging path
    roots: list[Path] = []
    runs: list[Any] = []

    def open_run() -> Any:
        root = Path(tempfile.mkdtemp(dir=workdir))
        roots.append(root)
        run = start(root)
        run.__enter__()
        runs.append(run)
        return _logger(run, 3)

    def close_run() -> None:
        runs[-1].__exit__(None, None, None)

    result = measure_overhead(
        make_step(args["step_reps"]), args["steps"], args["repeats"], open_run, close_run
    )
    for root in roots:
        shutil.rmtree(root, ignore_errors=True)
    return result


# ------------------------------------------------------------------ 4: listing 10,000 runs
def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _config(spec: RunSpec) -> dict[str, Any]:
    return {
        "lr": spec.lr,
        "batch_size": spec.batch_size,
        "optimizer": spec.optimizer,
        "seed": spec.seed,
    }


def _hashes(config: dict[str, Any]) -> tuple[str, str]:
    """(config_hash, group_key) the way start_run computes them, when that code is there."""
    try:
        from trialbook.config._hash import config_hash, group_key

        return config_hash(config), group_key(config)
    except ImportError:  # private helpers moved: any stable hash does for a benchmark
        return _hash(config), _hash({k: v for k, v in config.items() if k != "seed"})


def _store_create(store: Any, spec: RunSpec) -> None:
    from trialbook.store import NewRun

    config = _config(spec)
    chash, gkey = _hashes(config)
    run_id = f"20240101_000000_{spec.index:06x}"
    store.create_run(
        NewRun(
            id=run_id,
            experiment="bench",
            name=spec.name,
            config=config,
            config_hash=chash,
            group_key=gkey,
            seed=spec.seed,
            host="bench",
            pid=None,
            started_at=spec.started_at,
        )
    )
    store.log_params(run_id, config)
    t = spec.started_at + 1.0
    store.log_metrics(run_id, {"loss": [(0, spec.loss, t)], "acc": [(0, spec.acc, t)]})
    store.finish_run(run_id, "completed" if spec.completed else "failed", t, 1.0)


def populate_list(args: dict[str, Any]) -> dict[str, Any]:
    """Time ``start_run`` per run on a few runs, then create ``n`` runs through the Store."""
    import trialbook

    folder = Path(args["dir"])
    # start_run's per-run cost (provenance, folder, config files), from inside the git repo
    # as a training script would be; its runs go to a separate throwaway workspace.
    scratch = Path(tempfile.mkdtemp(dir=args["workdir"]))
    here = os.getcwd()
    os.chdir(REPO)
    try:
        start(scratch).finish()  # warm-up: lazy imports, package list
        t0 = time.perf_counter()
        for i in range(args["start_run_runs"]):
            with start(scratch) as run:
                run.log({"loss": 0.5, "acc": 0.5}, step=0)
            del i
        start_run_s = (time.perf_counter() - t0) / args["start_run_runs"]
    finally:
        os.chdir(here)
        shutil.rmtree(scratch, ignore_errors=True)

    specs = run_specs(args["n"])
    store = trialbook.open_store(root=folder, create=True)
    t0 = time.perf_counter()
    for spec in specs:
        _store_create(store, spec)
    populate_s = time.perf_counter() - t0
    store.close()
    return {
        "runs": len(specs),
        "start_run_ms_per_run": start_run_s * 1e3,
        "store_ms_per_run": populate_s / len(specs) * 1e3,
        "populate_s": populate_s,
    }


def query_list(args: dict[str, Any]) -> dict[str, Any]:
    import trialbook
    from trialbook.store import MetricCondition, ParamCondition, RunQuery

    def q(limit: int | None) -> RunQuery:
        return RunQuery(
            statuses=("completed",),
            params=(ParamCondition("lr", "=", QUERY_LR),),
            metrics=(MetricCondition("loss", "<", QUERY_LOSS_BELOW),),
            order_by="metrics.loss",
            descending=False,
            limit=limit,
        )

    top_q, all_q = q(args["top"]), q(None)
    t0 = time.perf_counter()
    store = trialbook.open_store(root=Path(args["dir"]))
    first = store.list_runs(top_q)
    first_s = time.perf_counter() - t0
    top_s, all_s = [], []
    for _ in range(args["repeats"]):
        t0 = time.perf_counter()
        top = store.list_runs(top_q)
        top_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        everything = store.list_runs(all_q)
        all_s.append(time.perf_counter() - t0)
    expected = expected_matches(run_specs(args["n"]))
    if len(everything) != len(expected) or len(first) != min(args["top"], len(expected)):
        raise RuntimeError(f"trialbook matched {len(everything)} runs, expected {len(expected)}")
    if [r.name for r in everything[:5]] != [s.name for s in expected[:5]] or len(top) != len(first):
        raise RuntimeError("trialbook returned the runs in an unexpected order")
    store.close()
    return {
        "top_s": median(top_s),
        "all_s": median(all_s),
        "first_with_open_s": first_s,
        "matches": len(everything),
        "top": args["top"],
    }


# ------------------------------------------------------------------ 5: metric history
def populate_history(args: dict[str, Any]) -> dict[str, Any]:
    folder = Path(args["dir"])
    t0 = time.perf_counter()
    with start(folder) as run:
        for i in range(args["n"]):
            v = 1.0 / (1 + i)
            run.log({"loss": v, "acc": 1.0 - v}, step=i)
    return {"run_id": run.id, "populate_s": time.perf_counter() - t0}


def query_history(args: dict[str, Any]) -> dict[str, Any]:
    import trialbook

    t0 = time.perf_counter()
    store = trialbook.open_store(root=Path(args["dir"]))
    first = store.metric_history(args["run_id"], "loss")
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(args["repeats"]):
        t0 = time.perf_counter()
        hist = store.metric_history(args["run_id"], "loss")
        times.append(time.perf_counter() - t0)
    store.close()
    if len(first) != args["n"] or len(hist) != args["n"]:
        raise RuntimeError(f"trialbook history has {len(hist)} points, expected {args['n']}")
    return {"read_s": median(times), "first_with_open_s": first_s, "points": len(hist)}


BENCHES = {
    "log": log,
    "overhead": overhead,
    "populate_list": populate_list,
    "query_list": query_list,
    "populate_history": populate_history,
    "query_history": query_history,
}

if __name__ == "__main__":
    worker_main(BENCHES)
