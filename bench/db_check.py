"""What noticing a damaged database costs when a Store opens, on a large workspace database.

    .venv/bin/python bench/db_check.py                 # a ~1 GB database in a temp folder
    .venv/bin/python bench/db_check.py --gb 0.2 --keep /tmp/big   # smaller, kept for reuse

Builds a trialbook database of the current schema holding about ``--gb`` GB of metric points
(written straight through sqlite3, which is faster than logging them), then reports medians of:

* **open, stamp matches**: ``connect()`` + ``close()`` when the file is the one last found
  clean (what nearly every open costs: one stat and one small read besides the schema check);
* **open, stamp stale**: the same after the file changed (the stamp removed), which runs
  ``PRAGMA quick_check`` over the whole file;
* **PRAGMA quick_check** and **PRAGMA integrity_check** alone (``trialbook db check`` runs the
  latter);
* **stamp comparison alone**: the part of an open that decides whether to check (a stat and
  reading the 40-byte stamp file);
* **header check**: reading the 100-byte header, for scale.

The page cache is warm (the file was just written); a cold cache makes the full checks
slower still. Nothing here is a test; no test asserts these times.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from trialbook.store import NewRun, connect
from trialbook.store._integrity import _stamped, file_identity, forget_check, integrity_problems


def build(db: Path, gb: float) -> None:
    store = connect(f"sqlite:///{db}", create=True)
    store.create_run(NewRun(id="r_aaaaaa", experiment="e", name="big", config={},
                            config_hash="h", group_key="g"))  # fmt: skip
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("INSERT INTO metric_keys (id, name) VALUES (1, 'loss'), (2, 'acc')")
    (num,) = conn.execute("SELECT num FROM runs").fetchone()
    step = 0
    target = gb * 1e9
    while os.path.getsize(db) + os.path.getsize(f"{db}-wal") * 0 < target:
        rows = [
            (num, 1 + (i % 2), step + i // 2, 1.0 / (1 + i), time.time()) for i in range(200_000)
        ]
        with conn:
            conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)
        step += 100_000
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def timed(fn: object, repeats: int) -> list[float]:
    assert callable(fn)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0)
    parser.add_argument(
        "--keep", type=Path, help="folder to build in (and reuse) instead of a temp one"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="tb-dbcheck-"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "trialbook.db"
    if not db.exists():
        t0 = time.perf_counter()
        build(db, args.gb)
        print(
            f"built {db} ({os.path.getsize(db) / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s"
        )
    url = f"sqlite:///{db}"
    connect(url).close()  # found clean once: the stamp now matches

    def open_close() -> None:
        connect(url).close()

    def stale_open() -> None:
        forget_check(db)
        connect(url).close()

    def stamp() -> None:
        identity = file_identity(db)
        assert identity is not None and _stamped(db, identity)

    def header() -> None:
        with db.open("rb") as f:
            f.read(100)

    results = {
        "open, stamp matches": timed(open_close, 20),
        "open, stamp stale (quick_check)": timed(stale_open, 3),
        "PRAGMA quick_check": timed(lambda: integrity_problems(db, quick=True), 3),
        "PRAGMA integrity_check": timed(lambda: integrity_problems(db, quick=False), 3),
        "stamp comparison alone": timed(stamp, 200),
        "header check": timed(header, 20),
    }
    size = os.path.getsize(db)
    print(f"database: {size / 1e9:.2f} GB, SQLite {sqlite3.sqlite_version}, "
          f"Python {sys.version.split()[0]}")  # fmt: skip
    for name, times in results.items():
        print(f"{name:34} median {statistics.median(times) * 1000:10.2f} ms  ({len(times)} runs)")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"bytes": size, "sqlite": sqlite3.sqlite_version, "seconds": results}, indent=1
            )
        )


if __name__ == "__main__":
    main()
