"""Workers of ``bench/postgres.py``: ``python bench/_postgres_side.py BENCH 'JSON-ARGS'``.

Each measures one repeat in a fresh database on the PostgreSQL server the harness started
(``args['server']``, a URL whose user may create databases), after an untimed warm-up:

* ``trialbook``: the logging script (``run.log`` in a loop, then leave the run), into
  PostgreSQL or, with ``server`` None, into the default SQLite workspace store; ``with_fk``
  first adds back the two foreign keys of ``metrics`` that schema tb0004 dropped on
  PostgreSQL (the schema before it).
* ``copy``: the same points, with plain psycopg, by binary COPY into trialbook's own
  ``metrics`` table (the ceiling); ``with_fk`` with those foreign keys added back (what they
  cost); ``script``: as a user's script would, the logging loop appending rows to a list and
  then one COPY, timed like trialbook from the first call until committed.
* ``mlflow``: the same points through MLflow's SQLAlchemy tracking store on PostgreSQL,
  ``log_batch`` of 1,000 metrics (MLflow's limit per call), synchronously.
* ``mlflow_template``: a database MLflow has migrated, copied (``CREATE DATABASE ...
  TEMPLATE``) for every MLflow repeat so that its ~5 s of migrations never count.
"""

from __future__ import annotations

import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import worker_main
from _trialbook_side import check_stored, logging_script
from _trialbook_side import start as start_bench_run

RUN_ID = "20260101_000000_b0b0b0"
KEYS = ("loss", "acc", "lr")


def _points(calls: int, metrics: int) -> dict[str, tuple[list[int], list[float], list[float]]]:
    """What the logging script logs, as columns per key (times one microsecond apart)."""
    steps = list(range(calls))
    loss = [i * 1e-3 for i in steps]
    values = {"loss": loss, "acc": [1.0 - v for v in loss], "lr": [1e-3] * calls}
    times = [time.time() + i * 1e-6 for i in steps]
    return {k: (steps, values[k], times) for k in KEYS[:metrics]}


def _new_database(server: str, template: str | None = None) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from trialbook.testing.stores import new_postgres_database

    if template is None:
        return new_postgres_database(server)
    name = f"bench_{time.time_ns()}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _drop_database(server: str, url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = make_url(url).database
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _libpq(url: str) -> str:
    """The psycopg connection string of a SQLAlchemy URL."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# ------------------------------------------------------------------ trialbook
def _add_metrics_foreign_keys(url: str) -> None:
    """The schema before tb0004, measured by ``with_fk``: add back the two foreign keys of
    ``metrics`` that tb0004 drops on PostgreSQL, as tb0001 named them."""
    import psycopg

    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        names = conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'metrics'::regclass "
            "AND contype = 'f'"
        ).fetchall()
        if names:
            raise RuntimeError(f"expected metrics without foreign keys, found {names}")
        conn.execute(
            "ALTER TABLE metrics ADD CONSTRAINT fk_metrics_run_num_runs FOREIGN KEY (run_num) "
            "REFERENCES runs (num) ON DELETE CASCADE"
        )
        conn.execute(
            "ALTER TABLE metrics ADD CONSTRAINT fk_metrics_key_id_metric_keys "
            "FOREIGN KEY (key_id) REFERENCES metric_keys (id)"
        )


def _trialbook_once(
    server: str | None, calls: int, metrics: int, workdir: Path, with_fk: bool = False
) -> dict[str, Any]:
    from trialbook.store import connect

    root = Path(tempfile.mkdtemp(dir=workdir))
    url = _new_database(server) if server else None
    if url and with_fk:
        connect(url, create=True).close()
        _add_metrics_foreign_keys(url)
    run = start_bench_run(root, store_url=url)
    t_loop, t_total = logging_script(run, calls, metrics)
    check_stored(run.id, calls, root, url)
    shutil.rmtree(root, ignore_errors=True)
    if server and url:
        _drop_database(server, url)
    points = calls * metrics
    return {
        "caller_us_per_point": t_loop / points * 1e6,
        "durable_points_per_s": points / t_total,
        "finish_s": t_total - t_loop,
        "loop_s": t_loop,
        "total_s": t_total,
        "points": points,
    }


def trialbook_log(args: dict[str, Any]) -> dict[str, Any]:
    workdir = Path(args["workdir"])
    with_fk = bool(args.get("with_fk"))
    _trialbook_once(args["server"], 1000, args["metrics"], workdir, with_fk)  # first use
    return _trialbook_once(args["server"], args["calls"], args["metrics"], workdir, with_fk)


# ------------------------------------------------------------------ plain psycopg COPY
def _script_rows(num: int, key_ids: dict[str, int], calls: int, metrics: int) -> list[Any]:
    """What a user's plain psycopg script does instead of ``run.log``: the logging script's
    loop, each call appending its points (run, metric, step, value, time) to a list."""
    rows: list[Any] = []
    add, now = rows.append, time.time
    if metrics == 1:
        loss = key_ids["loss"]
        for i in range(calls):
            add((num, loss, i, i * 1e-3, now()))
    else:
        loss, acc, lr = key_ids["loss"], key_ids["acc"], key_ids["lr"]
        for i in range(calls):
            v, t = i * 1e-3, now()
            add((num, loss, i, v, t))
            add((num, acc, i, 1.0 - v, t))
            add((num, lr, i, 1e-3, t))
    return rows


def _copy_once(
    server: str, calls: int, metrics: int, with_fk: bool, script: bool = False
) -> dict[str, Any]:
    """One plain COPY of the points. ``script``: timed as trialbook is, from the first call of
    the logging loop (which builds the rows) until committed; otherwise the rows are built
    before the timer and only COPY + commit is timed."""
    import psycopg

    from trialbook.store import NewRun, connect

    url = _new_database(server)
    store = connect(url, create=True)  # trialbook's schema, a run and its metric keys
    try:
        store.create_run(
            NewRun(id=RUN_ID, experiment="bench", name="copy", config={}, config_hash="h",
                   group_key="g", started_at=time.time())
        )  # fmt: skip
    finally:
        store.close()
    if with_fk:
        _add_metrics_foreign_keys(url)
    columns = _points(calls, metrics)
    table = "metrics"
    with psycopg.connect(_libpq(url)) as conn:
        with conn.transaction():
            num = conn.execute("SELECT num FROM runs WHERE id = %s", (RUN_ID,)).fetchone()[0]
            key_ids = {}
            for key in columns:
                key_ids[key] = conn.execute(
                    "INSERT INTO metric_keys (name) VALUES (%s) RETURNING id", (key,)
                ).fetchone()[0]
        t0 = time.perf_counter()
        if script:
            rows: Any = _script_rows(num, key_ids, calls, metrics)
        else:
            rows = itertools.chain.from_iterable(
                zip(itertools.repeat(num), itertools.repeat(key_ids[key]), *cols)
                for key, cols in columns.items()
            )
        t_loop = time.perf_counter() - t0
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(
                f"COPY {table} (run_num, key_id, step, value, time) FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["int4", "int4", "int8", "float8", "float8"])
            for row in rows:
                copy.write_row(row)
        total = time.perf_counter() - t0
        stored = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    _drop_database(server, url)
    points = calls * metrics
    if stored != points:
        raise RuntimeError(f"COPY stored {stored} of {points} points")
    result = {"durable_points_per_s": points / total, "total_s": total, "points": points}
    if script:
        result.update(caller_us_per_point=t_loop / points * 1e6, finish_s=total - t_loop)
    return result


def copy(args: dict[str, Any]) -> dict[str, Any]:
    script = bool(args.get("script"))
    _copy_once(args["server"], 1000, args["metrics"], args["with_fk"], script)  # warm-up
    return _copy_once(args["server"], args["calls"], args["metrics"], args["with_fk"], script)


# ------------------------------------------------------------------ MLflow
def mlflow_template(args: dict[str, Any]) -> dict[str, Any]:
    """Let MLflow create and migrate its tables in ``args['database']`` (a new database)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from sqlalchemy.engine import make_url

    url = make_url(args["server"]).set(database=args["database"])
    t0 = time.perf_counter()
    store = SqlAlchemyStore(url.render_as_string(hide_password=False), args["workdir"])
    store.engine.dispose()
    return {"seconds": time.perf_counter() - t0}


def _mlflow_once(server: str, template: str, calls: int, metrics: int, workdir: Path) -> Any:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from mlflow.utils.validation import MAX_METRICS_PER_BATCH

    url = _new_database(server, template)
    store = SqlAlchemyStore(url, str(workdir / "mlflow-artifacts"))
    exp = store.create_experiment("bench")
    run = store.create_run(exp, "bench", int(time.time() * 1000), [], "bench")
    run_id = run.info.run_id
    columns = _points(calls, metrics)
    per_call = MAX_METRICS_PER_BATCH // metrics  # whole steps per batch
    log_batch = store.log_batch
    t0 = time.perf_counter()
    for start in range(0, calls, per_call):
        batch = [
            Metric(key, values[i], int(times[i] * 1000), steps[i])
            for i in range(start, min(calls, start + per_call))
            for key, (steps, values, times) in columns.items()
        ]
        log_batch(run_id, metrics=batch, params=[], tags=[])
    total = time.perf_counter() - t0
    stored = len(store.get_metric_history(run_id, "loss"))
    store.engine.dispose()
    _drop_database(server, url)
    if stored != calls:
        raise RuntimeError(f"MLflow stored {stored} of {calls} 'loss' points")
    points = calls * metrics
    return {
        "durable_points_per_s": points / total,
        "caller_us_per_point": total / points * 1e6,  # synchronous: the caller waits
        "total_s": total,
        "points": points,
        "batch": per_call * metrics,
        "mlflow_version": mlflow.__version__,
    }


def mlflow_log(args: dict[str, Any]) -> dict[str, Any]:
    workdir = Path(args["workdir"])
    _mlflow_once(args["server"], args["template"], 1000, args["metrics"], workdir)  # warm-up
    return _mlflow_once(args["server"], args["template"], args["calls"], args["metrics"], workdir)


if __name__ == "__main__":
    worker_main(
        {
            "trialbook": trialbook_log,
            "copy": copy,
            "mlflow": mlflow_log,
            "mlflow_template": mlflow_template,
        }
    )
