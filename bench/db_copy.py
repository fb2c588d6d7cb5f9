"""How long ``trialbook db copy`` takes to move a workspace index of many metric points from
SQLite to PostgreSQL (and back), and how much memory it holds while doing it.

    .venv/bin/python bench/db_copy.py --server postgresql+psycopg://postgres@/postgres?host=/tmp/sock
    .venv/bin/python bench/db_copy.py --points 1000000       # default; without --server a
                                                             # throwaway local server is started

Builds a SQLite workspace of ``--runs`` runs holding ``--points`` metric points in total (two
keys per run, written through the Store's own write path, ``log_metric_columns``), copies it
into a new PostgreSQL database with :func:`trialbook.store.copy_store`, and back into a new
SQLite file, and reports each copy's wall-clock time, points per second and the process's peak
resident memory growth. Nothing here is a test; no test asserts these times.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from trialbook.store import NewRun, connect, copy_store


def build(root: Path, runs: int, points: int) -> None:
    store = connect(f"sqlite:///{root / 'trialbook.db'}", create=True, root=root)
    per_key = points // (runs * 2)
    try:
        for r in range(runs):
            run_id = f"20260101_000000_{r:06x}"
            store.create_run(NewRun(id=run_id, experiment="bench", name=f"run{r}",
                                    config={"r": r}, config_hash=f"h{r}", group_key=f"g{r}",
                                    seed=r, folder=str(root / f"run{r}_{r:06x}")))  # fmt: skip
            for start in range(0, per_key, 50_000):
                steps = range(start, min(per_key, start + 50_000))
                now = time.time()
                store.log_metric_columns(
                    run_id,
                    {
                        "loss": (steps, [1.0 / (1 + s) for s in steps], [now] * len(steps)),
                        "acc": (steps, [s / per_key for s in steps], [now] * len(steps)),
                    },
                )
            store.finish_run(run_id, "completed", time.time(), 1.0)
    finally:
        store.close()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextlib.contextmanager
def server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from trialbook.testing.stores import local_postgres

    with local_postgres() as started:
        yield started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="PostgreSQL URL whose user may create databases")
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from trialbook.testing.stores import new_postgres_database

    with tempfile.TemporaryDirectory(prefix="tb-dbcopy-") as tmp, server(args.server) as admin:
        root = Path(tmp) / "experiments"
        root.mkdir()
        t0 = time.perf_counter()
        build(root, args.runs, args.points)
        built = time.perf_counter() - t0
        results: dict[str, object] = {"points": args.points, "runs": args.runs}
        rss0 = peak_rss_mb()
        pg = new_postgres_database(admin)
        t0 = time.perf_counter()
        report = copy_store(root, pg)
        there = time.perf_counter() - t0
        rss1 = peak_rss_mb()
        t0 = time.perf_counter()
        copy_store(pg, Path(tmp) / "back", source_root=root)
        back = time.perf_counter() - t0
        rss2 = peak_rss_mb()
        assert report.rows["metrics"] == args.points, report.rows
        results.update(
            build_s=round(built, 2),
            sqlite_to_postgres_s=round(there, 2),
            sqlite_to_postgres_points_per_s=round(args.points / there),
            postgres_to_sqlite_s=round(back, 2),
            postgres_to_sqlite_points_per_s=round(args.points / back),
            peak_rss_growth_mb=[round(rss1 - rss0, 1), round(rss2 - rss1, 1)],
            python=sys.version.split()[0],
        )
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
