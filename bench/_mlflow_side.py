"""MLflow side of the benchmark: ``python bench/_mlflow_side.py BENCH 'JSON-ARGS'``.

MLflow uses its SQLite backend store (``sqlite:///<tmp>/mlflow.db``). The migrated empty
database is built once by ``make_template`` and copied for every measurement, so the several
seconds MLflow spends creating its ~60 tables never count and every measurement starts from a
fresh file.

Logging modes:

* ``sync``: ``mlflow.log_metric`` / ``mlflow.log_metrics`` with ``synchronous=True``.
* ``async``: the same with ``synchronous=False`` and MLflow's default async settings.
* ``async_buffered``: ``synchronous=False`` with ``MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1``,
  which lets MLflow merge queued calls into one ``log_batch`` (its fastest durable mode).
* ``client_async``: ``MlflowClient.log_metric`` / ``log_batch`` with ``synchronous=False`` and
  1 s buffering: skips the fluent API's per-call work (active-run lookup, registry-URI
  resolution, dataset bookkeeping).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
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

ASYNC_MODES = ("async", "async_buffered", "client_async")


def _set_mode_env(mode: str) -> None:
    # Read by MLflow's async logging thread each time it wakes up; must be set before the
    # first asynchronous call of the process.
    if mode in ("async_buffered", "client_async"):
        os.environ["MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS"] = "1"
    else:
        os.environ.pop("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", None)


def _uri(folder: Path) -> str:
    return f"sqlite:///{folder / 'mlflow.db'}"


def _fresh_store(folder: Path, template: str) -> tuple[Any, str]:
    """Copy the migrated template DB into ``folder``; return (client, experiment id)."""
    import mlflow
    from mlflow import MlflowClient

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, folder / "mlflow.db")
    uri = _uri(folder)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    exp_id = client.create_experiment("bench", artifact_location=str(folder / "artifacts"))
    mlflow.set_experiment(experiment_id=exp_id)
    return client, exp_id


def make_template(args: dict[str, Any]) -> dict[str, Any]:
    """Create an empty, fully migrated MLflow SQLite database at ``args['path']``."""
    import mlflow
    from mlflow import MlflowClient

    path = Path(args["path"])
    t0 = time.perf_counter()
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    client.search_experiments()
    return {"seconds": time.perf_counter() - t0, "mlflow_version": mlflow.__version__}


# ------------------------------------------------------------------ 1 + 2: logging
def _loggers(mode: str, metrics: int, client: Any, run_id: str) -> Any:
    import mlflow
    from mlflow.entities import Metric

    sync = mode == "sync"
    if mode == "client_async":
        if metrics == 1:

            def log1(i: int, v: float) -> None:
                client.log_metric(run_id, "loss", v, step=i, synchronous=False)

            return log1

        def log3(i: int, v: float) -> None:
            ts = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[
                    Metric("loss", v, ts, i),
                    Metric("acc", 1.0 - v, ts, i),
                    Metric("lr", 1e-3, ts, i),
                ],
                synchronous=False,
            )

        return log3
    if metrics == 1:

        def fluent1(i: int, v: float) -> None:
            mlflow.log_metric("loss", v, step=i, synchronous=sync)

        return fluent1

    def fluent3(i: int, v: float) -> None:
        mlflow.log_metrics({"loss": v, "acc": 1.0 - v, "lr": 1e-3}, step=i, synchronous=sync)

    return fluent3


def _close(mode: str) -> None:
    import mlflow

    if mode in ASYNC_MODES:
        mlflow.flush_async_logging()
    mlflow.end_run()


def _one_logging_run(args: dict[str, Any], n: int, root: Path) -> dict[str, float]:
    import mlflow
    from mlflow.entities import Metric

    mode, metrics = args["mode"], args["metrics"]
    folder = Path(tempfile.mkdtemp(dir=root))
    client, _ = _fresh_store(folder, args["template"])
    run = mlflow.start_run()
    run_id = run.info.run_id
    sync = mode == "sync"
    # The loops are written out as a user would, so no wrapper call is timed.
    if mode == "client_async" and metrics == 1:
        t0 = time.perf_counter()
        for i in range(n):
            client.log_metric(run_id, "loss", i * 1e-3, step=i, synchronous=False)
    elif mode == "client_async":
        t0 = time.perf_counter()
        for i in range(n):
            v, ts = i * 1e-3, int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[
                    Metric("loss", v, ts, i),
                    Metric("acc", 1.0 - v, ts, i),
                    Metric("lr", 1e-3, ts, i),
                ],
                synchronous=False,
            )
    elif metrics == 1:
        t0 = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", i * 1e-3, step=i, synchronous=sync)
    else:
        t0 = time.perf_counter()
        for i in range(n):
            v = i * 1e-3
            mlflow.log_metrics({"loss": v, "acc": 1.0 - v, "lr": 1e-3}, step=i, synchronous=sync)
    t_loop = time.perf_counter() - t0
    _close(mode)
    t_total = time.perf_counter() - t0
    stored = len(client.get_metric_history(run_id, "loss"))
    if stored != n:
        raise RuntimeError(f"MLflow stored {stored} of {n} 'loss' points")
    shutil.rmtree(folder, ignore_errors=True)
    points = n * metrics
    return {
        "caller_us_per_point": t_loop / points * 1e6,
        "durable_points_per_s": points / t_total,
        "loop_s": t_loop,
        "total_s": t_total,
    }


def log(args: dict[str, Any]) -> dict[str, Any]:
    """Log ``n`` calls of ``metrics`` metrics each; time the loop, then until durable."""
    _set_mode_env(args["mode"])
    root = Path(args["workdir"])
    _one_logging_run(args, min(20, args["n"]), root)  # warm-up: imports, first-use caches
    reps = [_one_logging_run(args, args["n"], root) for _ in range(args["repeats"])]
    return {
        "caller_us_per_point": median([r["caller_us_per_point"] for r in reps]),
        "durable_points_per_s": median([r["durable_points_per_s"] for r in reps]),
        "points": args["n"] * args["metrics"],
        "calls": args["n"],
        "repeats": reps,
    }


# ------------------------------------------------------------------ 3: training-loop overhead
def overhead(args: dict[str, Any]) -> dict[str, Any]:
    import mlflow

    mode = args["mode"]
    _set_mode_env(mode)
    root = Path(args["workdir"])
    _one_logging_run({**args, "metrics": 3}, 20, root)  # warm-up of the logging path
    folders: list[Path] = []

    def open_run() -> Any:
        folder = Path(tempfile.mkdtemp(dir=root))
        folders.append(folder)
        client, _ = _fresh_store(folder, args["template"])
        run = mlflow.start_run()
        return _loggers(mode, 3, client, run.info.run_id)

    result = measure_overhead(
        make_step(args["step_reps"]), args["steps"], args["repeats"], open_run, lambda: _close(mode)
    )
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return result


# ------------------------------------------------------------------ 4: listing 10,000 runs
def _api_create(client: Any, exp_id: str, spec: RunSpec) -> str:
    from mlflow.entities import Metric, Param

    start_ms = int(spec.started_at * 1000)
    run = client.create_run(exp_id, start_time=start_ms, run_name=spec.name)
    rid = run.info.run_id
    client.log_batch(
        rid,
        metrics=[Metric("loss", spec.loss, start_ms, 0), Metric("acc", spec.acc, start_ms, 0)],
        params=[
            Param("lr", str(spec.lr)),
            Param("batch_size", str(spec.batch_size)),
            Param("optimizer", spec.optimizer),
            Param("seed", str(spec.seed)),
        ],
    )
    client.set_terminated(rid, "FINISHED" if spec.completed else "FAILED", end_time=start_ms + 1)
    return str(rid)


def _clone_runs(db: Path, template_id: str, specs: list[RunSpec]) -> None:
    """Insert ``specs`` as copies of the rows MLflow's API wrote for ``template_id``.

    Only the per-run values change (ids, names, times, status, param and metric values), so
    the rows have exactly the shape ``create_run`` + ``log_batch`` + ``set_terminated`` write.
    """
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    expected = {"runs", "tags", "params", "metrics", "latest_metrics"}
    for table in tables:
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
        for col in ("run_uuid", "run_id", "source_run_id", "destination_id", "source_id"):
            if col in cols and table not in expected:
                (count,) = con.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{col}" = ?', (template_id,)
                ).fetchone()
                if count:
                    raise RuntimeError(f"template run also has rows in {table}; update the clone")
    rows = {
        t: [dict(r) for r in con.execute(f'SELECT * FROM "{t}" WHERE run_uuid = ?', (template_id,))]
        for t in expected
    }
    for spec in specs:
        rid = uuid.uuid4().hex
        start_ms = int(spec.started_at * 1000)
        params = {
            "lr": str(spec.lr),
            "batch_size": str(spec.batch_size),
            "optimizer": spec.optimizer,
            "seed": str(spec.seed),
        }
        metrics = {"loss": spec.loss, "acc": spec.acc}
        for table, template_rows in rows.items():
            for row in template_rows:
                new = dict(row, run_uuid=rid)
                if table == "runs":
                    new.update(
                        name=spec.name,
                        status="FINISHED" if spec.completed else "FAILED",
                        start_time=start_ms,
                        end_time=start_ms + 1,
                        artifact_uri=str(row["artifact_uri"]).replace(template_id, rid),
                    )
                elif table == "tags" and row["key"] == "mlflow.runName":
                    new["value"] = spec.name
                elif table == "params":
                    new["value"] = params[row["key"]]
                elif table in ("metrics", "latest_metrics"):
                    new.update(value=metrics[row["key"]], timestamp=start_ms)
                cols = ", ".join(f'"{c}"' for c in new)
                marks = ", ".join("?" for _ in new)
                con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(new.values()))
    con.commit()
    con.close()


def populate_list(args: dict[str, Any]) -> dict[str, Any]:
    """Create ``n`` runs: the first ``api_runs`` through MlflowClient, the rest cloned in SQL."""
    folder = Path(args["dir"])
    client, exp_id = _fresh_store(folder, args["template"])
    specs = run_specs(args["n"])
    api = specs[: args["api_runs"]]
    t0 = time.perf_counter()
    ids = [_api_create(client, exp_id, s) for s in api]
    api_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    _clone_runs(folder / "mlflow.db", ids[0], specs[len(api) :])
    clone_s = time.perf_counter() - t0
    return {
        "runs": len(specs),
        "api_runs": len(api),
        "api_ms_per_run": api_s / len(api) * 1e3,
        "clone_s": clone_s,
        "populate_s": api_s + clone_s,
    }


def query_list(args: dict[str, Any]) -> dict[str, Any]:
    """Time the filtered, sorted listing in a fresh process (the store populated earlier)."""
    from mlflow import MlflowClient

    folder = Path(args["dir"])
    filter_string = (
        f"attributes.status = 'FINISHED' and params.lr = '{QUERY_LR}' "
        f"and metrics.loss < {QUERY_LOSS_BELOW}"
    )
    order_by = ["metrics.loss ASC"]
    t0 = time.perf_counter()
    client = MlflowClient(tracking_uri=_uri(folder))
    exp_id = client.get_experiment_by_name("bench").experiment_id

    def query(limit: int) -> list[Any]:
        return list(
            client.search_runs(
                [exp_id], filter_string=filter_string, order_by=order_by, max_results=limit
            )
        )

    first = query(args["top"])
    first_s = time.perf_counter() - t0
    top_s, all_s = [], []
    for _ in range(args["repeats"]):
        t0 = time.perf_counter()
        top = query(args["top"])
        top_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        everything = query(50_000)  # MLflow's maximum page size
        all_s.append(time.perf_counter() - t0)
    expected = expected_matches(run_specs(args["n"]))
    got = [r.data.metrics["loss"] for r in everything]
    if len(everything) != len(expected) or len(first) != min(args["top"], len(expected)):
        raise RuntimeError(f"MLflow matched {len(everything)} runs, expected {len(expected)}")
    if got[:5] != [s.loss for s in expected[:5]] or len(top) != len(first):
        raise RuntimeError("MLflow returned the runs in an unexpected order")
    return {
        "top_s": median(top_s),
        "all_s": median(all_s),
        "first_with_open_s": first_s,
        "matches": len(everything),
        "top": args["top"],
    }


# ------------------------------------------------------------------ 5: metric history
def populate_history(args: dict[str, Any]) -> dict[str, Any]:
    from mlflow.entities import Metric

    folder = Path(args["dir"])
    client, exp_id = _fresh_store(folder, args["template"])
    run_id = client.create_run(exp_id).info.run_id
    n = args["n"]
    t0 = time.perf_counter()
    base = int(time.time() * 1000)
    batch: list[Any] = []
    for i in range(n):
        v = 1.0 / (1 + i)
        batch += [Metric("loss", v, base + i, i), Metric("acc", 1 - v, base + i, i)]
        if len(batch) >= 1000:  # MLflow's log_batch limit
            client.log_batch(run_id, metrics=batch)
            batch = []
    if batch:
        client.log_batch(run_id, metrics=batch)
    client.set_terminated(run_id)
    return {"run_id": run_id, "populate_s": time.perf_counter() - t0}


def query_history(args: dict[str, Any]) -> dict[str, Any]:
    from mlflow import MlflowClient

    t0 = time.perf_counter()
    client = MlflowClient(tracking_uri=_uri(Path(args["dir"])))
    first = client.get_metric_history(args["run_id"], "loss")
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(args["repeats"]):
        t0 = time.perf_counter()
        hist = client.get_metric_history(args["run_id"], "loss")
        times.append(time.perf_counter() - t0)
    if len(first) != args["n"] or len(hist) != args["n"]:
        raise RuntimeError(f"MLflow history has {len(hist)} points, expected {args['n']}")
    return {"read_s": median(times), "first_with_open_s": first_s, "points": len(hist)}


BENCHES = {
    "make_template": make_template,
    "log": log,
    "overhead": overhead,
    "populate_list": populate_list,
    "query_list": query_list,
    "populate_history": populate_history,
    "query_history": query_history,
}

if __name__ == "__main__":
    worker_main(BENCHES)
