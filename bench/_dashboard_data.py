"""Data and servers for bench/dashboard.py: ``python bench/_dashboard_data.py JOB 'JSON-ARGS'``.

Jobs (each in its own process, so neither library's imports or caches touch the other's):

* ``trialbook``: one trialbook workspace holding every data set (through the Store API).
* ``mlflow``: one MLflow SQLite database with the same data (MLflow's API for the shapes,
  then plain SQL copies of those rows for bulk: MLflow's API costs ~30 ms per run and
  ~50 ms per 1,000-point ``log_batch``, which would make the set-up take an hour).
* ``serve``: our dashboard on 127.0.0.1 (real uvicorn, one process), port written to a file.
* ``live``: a training-like process that logs into running runs (``start_run``) until told
  to stop; its metric ``t`` is the wall time the point was logged, so a client can measure
  how fresh what it sees is.

Data sets (experiment names on both sides):

* ``bench``: 10,000 runs (params lr, batch_size, optimizer, seed; metrics loss, acc).
* ``history``: one run with ``loss`` of ``history_points`` points (a spike in the middle)
  and ``loss20k`` of 20,000 points.
* ``wide``: one run with ``wide_keys`` metric keys (one point each).
* ``compare``: ``compare_runs`` runs x ``compare_metrics`` metrics x ``compare_steps`` steps,
  in seed groups of 5.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import run_specs, worker_main

BASE_TIME = 1_700_000_000.0


def history_values(n: int) -> tuple[list[int], list[float], list[float]]:
    """Steps, values and times of the long history: a noisy decay with one spike."""
    import numpy as np

    steps = np.arange(n)
    rng = np.random.default_rng(7)
    values = 1.0 / np.sqrt(1.0 + steps / 1000.0) + rng.normal(0.0, 0.01, n)
    values[n // 2 + 12_345 if n > 30_000 else n // 2] = 25.0
    times = BASE_TIME + steps * 0.01
    return steps.tolist(), values.tolist(), times.tolist()


def compare_values(run: int, metric: int, steps: int) -> list[float]:
    import numpy as np

    rng = np.random.default_rng(run * 100 + metric)
    s = np.arange(steps)
    group = run // 5
    return (np.exp(-s / (steps / 4)) * (1.0 + 0.02 * group) + rng.normal(0, 0.02, steps)).tolist()


# ------------------------------------------------------------------ trialbook
def trialbook(args: dict[str, Any]) -> dict[str, Any]:
    from _trialbook_side import _hashes, _store_create

    import trialbook as tb
    from trialbook.store import NewRun

    root = Path(args["dir"])
    out: dict[str, Any] = {}
    with tb.open_store(root=root, create=True) as store:
        t0 = time.perf_counter()
        for spec in run_specs(args["runs"]):
            _store_create(store, spec)
        out["bench_s"] = time.perf_counter() - t0

        def new(run_id: str, experiment: str, name: str, config: dict[str, Any]) -> None:
            chash, gkey = _hashes(config)
            store.create_run(
                NewRun(
                    id=run_id,
                    experiment=experiment,
                    name=name,
                    config=config,
                    config_hash=chash,
                    group_key=gkey,
                    seed=config.get("seed"),
                    host="bench",
                    started_at=BASE_TIME,
                    params=config,
                )
            )

        t0 = time.perf_counter()
        new("20240102_000000_hist01", "history", "long", {"lr": 0.1})
        steps, values, times = history_values(args["history_points"])
        for a in range(0, len(steps), 100_000):
            b = a + 100_000
            store.log_metric_columns(
                "20240102_000000_hist01", {"loss": (steps[a:b], values[a:b], times[a:b])}
            )
        s20, v20, t20 = history_values(20_000)
        store.log_metric_columns("20240102_000000_hist01", {"loss20k": (s20, v20, t20)})
        store.finish_run("20240102_000000_hist01", "completed", times[-1], times[-1] - BASE_TIME)
        out["history_s"] = time.perf_counter() - t0
        out["history_run"] = "20240102_000000_hist01"

        t0 = time.perf_counter()
        new("20240103_000000_wide01", "wide", "wide", {"lr": 0.1})
        keys = [f"layer{i // 100:03d}/unit{i % 100:02d}" for i in range(args["wide_keys"])]
        store.log_metric_columns(
            "20240103_000000_wide01",
            {k: ([0], [float(i)], [BASE_TIME]) for i, k in enumerate(keys)},
        )
        store.finish_run("20240103_000000_wide01", "completed", BASE_TIME + 1, 1.0)
        out["wide_s"] = time.perf_counter() - t0
        out["wide_run"] = "20240103_000000_wide01"

        t0 = time.perf_counter()
        ids = []
        n_steps = args["compare_steps"]
        s = list(range(n_steps))
        tms = [BASE_TIME + i * 0.1 for i in s]
        for r in range(args["compare_runs"]):
            rid = f"20240104_000000_c{r:05d}"
            new(rid, "compare", f"cmp-{r:04d}", {"lr": 0.01 * (1 + r // 5), "seed": r % 5})
            store.log_metric_columns(
                rid,
                {
                    f"m{m}": (s, compare_values(r, m, n_steps), tms)
                    for m in range(args["compare_metrics"])
                },
            )
            store.finish_run(rid, "completed", tms[-1], tms[-1] - BASE_TIME)
            ids.append(rid)
        out["compare_s"] = time.perf_counter() - t0
        out["compare_runs"] = ids
    return out


# ------------------------------------------------------------------ MLflow
def _bulk_metrics(
    con: sqlite3.Connection,
    run_uuid: str,
    key: str,
    steps: list[int],
    values: list[float],
    times: list[float],
    template: dict[str, Any],
) -> None:
    """Insert metric rows shaped like ``template`` (a row MLflow's API wrote)."""
    cols = list(template)
    marks = ", ".join("?" for _ in cols)
    sql = f"INSERT INTO metrics ({', '.join(chr(34) + c + chr(34) for c in cols)}) VALUES ({marks})"

    def rows() -> Any:
        for st, v, t in zip(steps, values, times, strict=True):
            row = dict(
                template,
                run_uuid=run_uuid,
                key=key,
                step=st,
                value=v,
                timestamp=int(t * 1000),
                is_nan=math.isnan(v),
            )
            yield [row[c] for c in cols]

    con.executemany(sql, rows())


def _set_latest(
    con: sqlite3.Connection, run_uuid: str, key: str, step: int, value: float, t: float
) -> None:
    con.execute(
        "UPDATE latest_metrics SET step = ?, value = ?, timestamp = ? "
        "WHERE run_uuid = ? AND key = ?",
        (step, value, int(t * 1000), run_uuid, key),
    )


def mlflow(args: dict[str, Any]) -> dict[str, Any]:
    from _mlflow_side import _api_create, _clone_runs, _fresh_store
    from mlflow.entities import Metric, Param

    folder = Path(args["dir"])
    db = folder / "mlflow.db"
    client, exp_id = _fresh_store(folder, args["template"])
    out: dict[str, Any] = {"bench_experiment": exp_id}

    t0 = time.perf_counter()
    specs = run_specs(args["runs"])
    api = specs[: args["api_runs"]]
    ids = [_api_create(client, exp_id, s) for s in api]
    _clone_runs(db, ids[0], specs[len(api) :])
    out["bench_s"] = time.perf_counter() - t0

    def template_row(run_uuid: str) -> dict[str, Any]:
        con = sqlite3.connect(db)
        con.row_factory = sqlite3.Row
        row = dict(
            con.execute("SELECT * FROM metrics WHERE run_uuid = ? LIMIT 1", (run_uuid,)).fetchone()
        )
        con.close()
        return row

    # history: the first point of each key through the API, the rest copied in SQL
    t0 = time.perf_counter()
    hexp = client.create_experiment("history", artifact_location=str(folder / "a-history"))
    hrun = client.create_run(hexp, run_name="long").info.run_id
    client.log_batch(hrun, params=[Param("lr", "0.1")])
    steps, values, times = history_values(args["history_points"])
    s20, v20, t20 = history_values(20_000)
    client.log_batch(
        hrun,
        metrics=[
            Metric("loss", values[0], int(times[0] * 1000), 0),
            Metric("loss20k", v20[0], int(t20[0] * 1000), 0),
        ],
    )
    tmpl = template_row(hrun)
    con = sqlite3.connect(db)
    _bulk_metrics(con, hrun, "loss", steps[1:], values[1:], times[1:], tmpl)
    _bulk_metrics(con, hrun, "loss20k", s20[1:], v20[1:], t20[1:], tmpl)
    _set_latest(con, hrun, "loss", steps[-1], values[-1], times[-1])
    _set_latest(con, hrun, "loss20k", s20[-1], v20[-1], t20[-1])
    con.commit()
    con.close()
    client.set_terminated(hrun)
    out["history_s"] = time.perf_counter() - t0
    out["history_run"] = hrun

    # wide: every key through the API (1,000 per log_batch, MLflow's limit)
    t0 = time.perf_counter()
    wexp = client.create_experiment("wide", artifact_location=str(folder / "a-wide"))
    wrun = client.create_run(wexp, run_name="wide").info.run_id
    client.log_batch(wrun, params=[Param("lr", "0.1")])
    keys = [f"layer{i // 100:03d}/unit{i % 100:02d}" for i in range(args["wide_keys"])]
    ms = int(BASE_TIME * 1000)
    for a in range(0, len(keys), 1000):
        client.log_batch(
            wrun, metrics=[Metric(k, float(a + i), ms, 0) for i, k in enumerate(keys[a : a + 1000])]
        )
    client.set_terminated(wrun)
    out["wide_s"] = time.perf_counter() - t0
    out["wide_experiment"] = wexp
    out["wide_run"] = wrun

    # compare: runs and first points through the API, the rest copied in SQL
    t0 = time.perf_counter()
    cexp = client.create_experiment("compare", artifact_location=str(folder / "a-compare"))
    n_steps = args["compare_steps"]
    s = list(range(n_steps))
    tms = [BASE_TIME + i * 0.1 for i in s]
    cids = []
    con = sqlite3.connect(db)
    tmpl_c: dict[str, Any] | None = None
    for r in range(args["compare_runs"]):
        rid = client.create_run(cexp, run_name=f"cmp-{r:04d}").info.run_id
        vals = {m: compare_values(r, m, n_steps) for m in range(args["compare_metrics"])}
        client.log_batch(
            rid,
            metrics=[Metric(f"m{m}", v[0], int(tms[0] * 1000), 0) for m, v in vals.items()],
            params=[Param("lr", str(0.01 * (1 + r // 5))), Param("seed", str(r % 5))],
        )
        if tmpl_c is None:
            tmpl_c = template_row(rid)
        for m, v in vals.items():
            _bulk_metrics(con, rid, f"m{m}", s[1:], v[1:], tms[1:], tmpl_c)
            _set_latest(con, rid, f"m{m}", s[-1], v[-1], tms[-1])
        con.commit()
        client.set_terminated(rid)
        cids.append(rid)
    con.close()
    out["compare_s"] = time.perf_counter() - t0
    out["compare_runs"] = cids
    out["compare_experiment"] = cexp
    return out


# ------------------------------------------------------------------ servers and writers
def serve(args: dict[str, Any]) -> None:
    """Our dashboard on 127.0.0.1, a free port written to ``args['port_file']``."""
    import socket

    import uvicorn

    from trialbook.dashboard import create_app

    app = create_app(args["dir"])
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP;
    # without it every keep-alive response waits ~40 ms (Nagle against delayed ACKs), as
    # trialbook.dashboard.serve's sockets (made from getaddrinfo) never do.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    Path(args["port_file"]).write_text(str(sock.getsockname()[1]))
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def live(args: dict[str, Any]) -> None:
    """Log into ``runs`` running runs every ``interval`` s (metrics ``loss`` and ``t``, the
    log time, plus a stdout line per step) until ``stop_file`` exists; run ids to
    ``ids_file`` once they exist."""
    import trialbook as tb

    runs = [
        tb.start_run(
            "live",
            config={"i": i},
            root=args["dir"],
            name=f"live-{i}",
            system_metrics=False,
            capture_packages=False,
        )
        for i in range(args["runs"])
    ]
    # what `trialbook run` captures: the process's output in the run folder
    logs = [(r.folder.path / "stdout.log").open("a", encoding="utf-8") for r in runs]
    Path(args["ids_file"]).write_text(json.dumps([r.id for r in runs]))
    stop = Path(args["stop_file"])
    step = 0
    while not stop.exists():
        now = time.time()
        for r in runs:
            r.log({"loss": 1.0 / (1 + step), "t": now}, step=step)
        for f in logs:
            f.write(f"step {step} at {now:.3f}\n")
            f.flush()
        step += 1
        time.sleep(args["interval"])
    for r in runs:
        r.finish()


def _job(fn: Any) -> Any:
    def run(args: dict[str, Any]) -> dict[str, Any]:
        fn(args)
        return {}

    return run


if __name__ == "__main__":
    if sys.argv[1] in ("serve", "live"):
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        job = {"serve": serve, "live": live}[sys.argv[1]]
        job(json.loads(sys.argv[2]))
    else:
        worker_main(
            {"trialbook": trialbook, "mlflow": mlflow, "uuid": lambda a: {"u": uuid.uuid4().hex}}
        )
