"""``trialbook db recover``: copy what is readable of a damaged SQLite database into a new one.

SQLite's own ``.recover`` lives in the sqlite3 shell, which a Python install does not have;
this does the part trialbook needs with the standard library. Every table is read in rowid
order, a few thousand rows at a time; a read that meets a damaged page is narrowed to single
rows, and the damaged stretch of rowids is jumped over (doubling the jump until a read
succeeds). What was read goes into a fresh database of the current schema, with the same
rowids (so runs, metric keys and evaluations keep their ids). Then the run folders fill in
what the index lost: a run whose row is gone comes back from its meta.json, config.yaml and
summary.json, with its metric points when they survived and its surviving metric_summary
rows identify them (each key's point count, highest step and extreme values; otherwise the
points are dropped rather than guessed: they lived only in the database), and evaluations
listed in a summary.json but missing from the database come back with their
evaluations/*.jsonl samples. The damaged file is renamed aside, never deleted.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from trialbook._types import RUN_STATUSES
from trialbook._values import read_json_object
from trialbook.errors import StoreError, WorkspaceError
from trialbook.store import _integrity
from trialbook.store._dialect import rebuild_blocks
from trialbook.store._schema import DERIVED_TABLES, metadata

__all__ = ["Identify", "Recovery", "RunIdentity", "recover"]

_BATCH = 2000
_FOLDER_FILES = ("meta.json", "config.yaml", "summary.json")


class RunIdentity(NamedTuple):
    """What the Store indexes a rebuilt run by, computed from its config by the caller (the
    Store does not interpret configs): its config hash, seed group key and flattened params."""

    config_hash: str
    group_key: str
    params: Mapping[str, Any]


#: ``identify(config, experiment)``: the :class:`RunIdentity` of a run of ``experiment``
#: whose config.yaml holds ``config``.
Identify = Callable[[Mapping[str, Any], str], RunIdentity]


@dataclass
class Recovery:
    """What ``recover`` did."""

    database: Path
    damaged_copy: Path
    #: table -> rows copied
    copied: dict[str, int] = field(default_factory=dict)
    #: table -> rowid ranges (first, last) that could not be read
    lost: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)
    #: rows dropped because what they belong to (a run, an evaluation) was lost
    orphans: dict[str, int] = field(default_factory=dict)
    #: runs rebuilt from their folders
    rebuilt_runs: list[str] = field(default_factory=list)
    #: those of them whose metric points survived and were matched back to them
    rebuilt_with_points: list[str] = field(default_factory=list)
    #: (run id, benchmark) evaluations rebuilt from summary.json
    rebuilt_evaluations: list[tuple[str, str]] = field(default_factory=list)
    #: run folders that could not be read back (no meta.json, unreadable files)
    unreadable_folders: list[str] = field(default_factory=list)


def _old_columns(src: sqlite3.Connection, table: str) -> list[str]:
    try:
        return [str(r[1]) for r in src.execute(f'PRAGMA table_info("{table}")').fetchall()]
    except sqlite3.DatabaseError:
        return []


def _read_table(
    src: sqlite3.Connection, table: str, columns: list[str]
) -> tuple[list[tuple[Any, ...]], list[tuple[int, int | None]]]:
    """Every readable row (rowid first) and the rowid ranges that could not be read.

    Rowids must come back strictly increasing: a damaged page that yields them out of order
    counts as unreadable (and cannot send the scan round in circles).
    """
    cols = ", ".join(f'"{c}"' for c in columns)
    batch_sql = f'SELECT rowid, {cols} FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT ?'
    probe_sql = f'SELECT rowid FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT 1'
    rows: list[tuple[Any, ...]] = []
    lost: list[tuple[int, int | None]] = []
    last = -(2**63)
    size = _BATCH
    while True:
        try:
            batch = src.execute(batch_sql, (last, size)).fetchall()
            ids = [int(r[0]) for r in batch]
            if ids and (ids[0] <= last or any(b <= a for a, b in itertools.pairwise(ids))):
                raise sqlite3.DatabaseError("rowids out of order")
        except (sqlite3.DatabaseError, TypeError, ValueError, OverflowError):
            if size > 1:
                size = max(1, size // 8)  # narrow down to the first unreadable row
                continue
            # Jump over the damaged stretch, doubling the jump until a read works.
            step = 1
            resumed: int | None = None
            while last + step < 2**63 - 1:
                try:
                    found = src.execute(probe_sql, (last + step,)).fetchone()
                    if found is not None and int(found[0]) <= last + step:
                        raise sqlite3.DatabaseError("rowids out of order")
                except (sqlite3.DatabaseError, TypeError, ValueError, OverflowError):
                    step *= 2
                    continue
                resumed = None if found is None else int(found[0])
                break
            lost.append((last + 1, None if resumed is None else resumed - 1))
            if resumed is None:
                return rows, lost
            last = resumed - 1
            continue
        if not batch:
            return rows, lost
        rows.extend(batch)
        last = ids[-1]
        size = min(_BATCH, size * 8)


def _copy_tables(src: sqlite3.Connection, dst: sqlite3.Connection, report: Recovery) -> None:
    for table in metadata.sorted_tables:
        # Rebuilt after the copy instead: a damaged copy could disagree with its rows.
        if table.name in DERIVED_TABLES:
            continue
        new_cols = [c.name for c in table.columns]
        old = set(_old_columns(src, table.name))
        cols = [c for c in new_cols if c in old]
        if not cols:
            report.copied[table.name] = 0
            report.lost.setdefault(table.name, [])
            if not old:
                report.lost[table.name].append((-(2**63), None))
            continue
        rows, lost = _read_table(src, table.name, cols)
        if lost:
            report.lost[table.name] = lost
        names = ", ".join(["rowid", *(f'"{c}"' for c in cols)])
        marks = ", ".join("?" * (len(cols) + 1))
        sql = f'INSERT OR IGNORE INTO "{table.name}" ({names}) VALUES ({marks})'
        copied = 0
        for i in range(0, len(rows), _BATCH):
            chunk = rows[i : i + _BATCH]
            try:
                with dst:
                    dst.executemany(sql, chunk)
                copied += len(chunk)
            except sqlite3.DatabaseError:
                for row in chunk:  # a garbled row breaks a constraint: keep the others
                    try:
                        with dst:
                            dst.execute(sql, row)
                        copied += 1
                    except sqlite3.DatabaseError:
                        report.lost.setdefault(table.name, []).append((row[0], row[0]))
        report.copied[table.name] = copied


# ------------------------------------------------------------------ rebuilding from folders
def _epoch(iso: Any) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _experiment_id(dst: sqlite3.Connection, name: str) -> int:
    dst.execute(
        "INSERT OR IGNORE INTO experiments (name, created_at) VALUES (?, ?)", (name, time.time())
    )
    row = dst.execute("SELECT id FROM experiments WHERE name = ?", (name,)).fetchone()
    return int(row[0])


#: Per metric key: (key, points, highest step, lowest value, highest value).
_Signature = frozenset[tuple[str, int, int, float | None, float | None]]


def _orphan_points(dst: sqlite3.Connection) -> dict[int, _Signature]:
    """Run numbers of metric points whose run row was lost, each with the signature of its
    metrics."""
    out: dict[int, set[tuple[str, int, int, float | None, float | None]]] = {}
    for num, key, count, top, low, high in dst.execute(
        "SELECT m.run_num, k.name, count(*), max(m.step), min(m.value), max(m.value)"
        " FROM metrics m JOIN metric_keys k ON k.id = m.key_id"
        " WHERE m.run_num NOT IN (SELECT num FROM runs) GROUP BY m.run_num, k.name"
    ):
        out.setdefault(int(num), set()).add((str(key), int(count), int(top), low, high))
    return {num: frozenset(sig) for num, sig in out.items()}


def _summary_signature(dst: sqlite3.Connection, run_id: str) -> _Signature:
    return frozenset(
        (str(k), int(c), int(s), low, high)
        for k, c, s, low, high in dst.execute(
            'SELECT key, "count", last_step, "min", "max" FROM metric_summary WHERE run_id = ?',
            (run_id,),
        )
    )


def _run_num(dst: sqlite3.Connection, run_id: str, orphans: dict[int, _Signature]) -> int:
    """The number a rebuilt run gets: that of the lost row its metric points still carry when
    its surviving metric_summary rows match them exactly (every key's point count, highest
    step, lowest and highest value) and no other run's do; else a number no point uses, so
    that no run is ever given another run's points."""
    signature = _summary_signature(dst, run_id)
    if signature:
        matches = [num for num, sig in orphans.items() if sig == signature]
        if len(matches) == 1:
            del orphans[matches[0]]
            return matches[0]
    (top,) = dst.execute(
        "SELECT max(n) FROM (SELECT max(num) AS n FROM runs UNION ALL "
        "SELECT max(run_num) FROM metrics)"
    ).fetchone()
    return int(top or 0) + 1


def _rebuild_run(
    dst: sqlite3.Connection, folder: Path, meta: dict[str, Any], num: int, identify: Identify
) -> str:
    import yaml

    from trialbook.store._sql import encode_param

    run_id = str(meta["run_id"])
    experiment = str(meta.get("experiment") or "recovered")
    config: dict[str, Any] = {}
    if (folder / "config.yaml").is_file():
        loaded = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8"))
        config = loaded if isinstance(loaded, dict) else {}
    summary = read_json_object(folder / "summary.json") or {}
    identity = identify(config, experiment)
    git = meta.get("git") if isinstance(meta.get("git"), dict) else {}
    assert isinstance(git, dict)
    status = summary.get("status") if summary.get("status") in RUN_STATUSES else "crashed"
    started = _epoch(meta.get("start_time"))
    ended = _epoch(summary.get("end_time"))
    duration = summary.get("runtime_seconds")
    with dst:
        dst.execute(
            "INSERT INTO runs (num, id, experiment_id, name, status, config, config_hash,"
            " group_key, seed, notes, tags, host, pid, started_at, ended_at, duration,"
            " heartbeat_at, git_commit, git_branch, git_dirty, folder, error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                num,
                run_id,
                _experiment_id(dst, experiment),
                str(meta.get("name") or experiment),
                status,
                json.dumps(config, default=str),
                identity.config_hash,
                identity.group_key,
                meta.get("seed") if isinstance(meta.get("seed"), int) else None,
                "Rebuilt from its run folder by `trialbook db recover`.",
                json.dumps(["recovered"]),
                meta.get("host"),
                meta.get("pid") if isinstance(meta.get("pid"), int) else None,
                started,
                ended,
                duration if isinstance(duration, int | float) else None,
                ended or started,
                git.get("commit"),
                git.get("branch"),
                git.get("dirty"),
                folder.name,
                summary.get("error"),
            ),
        )
        dst.execute("INSERT OR IGNORE INTO run_tags VALUES (?, 'recovered')", (run_id,))
        kept = dst.execute("SELECT 1 FROM params WHERE run_id = ? LIMIT 1", (run_id,)).fetchone()
        for key, value in () if kept else identity.params.items():
            text_value, number = encode_param(value)
            dst.execute(
                "INSERT OR IGNORE INTO params VALUES (?, ?, ?, ?)",
                (run_id, key, text_value, number),
            )
        best = summary.get("best") if isinstance(summary.get("best"), dict) else {}
        assert isinstance(best, dict)
        metrics = summary.get("metrics")
        for key, last in (metrics if isinstance(metrics, dict) else {}).items():
            if not isinstance(last, int | float):
                continue
            b = best.get(key)
            if not isinstance(b, dict):
                b = {}
            value, step, goal = b.get("value"), b.get("step"), b.get("goal")
            ok = isinstance(value, int | float) and not math.isnan(value)
            dst.execute(
                'INSERT OR IGNORE INTO metric_summary (run_id, key, "last", last_step, "min",'
                ' min_step, "max", max_step, "count") VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)',
                (
                    run_id,
                    key,
                    None if math.isnan(last) else last,
                    step if isinstance(step, int) else 0,
                    value if ok and goal == "min" else None,
                    step if ok and goal == "min" else None,
                    value if ok and goal == "max" else None,
                    step if ok and goal == "max" else None,
                ),
            )
    return run_id


def _rebuild_evaluations(
    dst: sqlite3.Connection, run_id: str, folder: Path, report: Recovery
) -> None:
    summary = read_json_object(folder / "summary.json") or {}
    listed = summary.get("evaluations")
    if not isinstance(listed, dict) or not listed:
        return
    have = {
        str(r[0])
        for r in dst.execute("SELECT benchmark FROM evaluations WHERE run_id = ?", (run_id,))
    }
    for bench, entry in listed.items():
        if bench in have or not isinstance(entry, dict):
            continue
        samples = _read_samples(folder / "evaluations" / f"{bench}.jsonl")
        with dst:
            cur = dst.execute(
                "INSERT INTO evaluations (run_id, benchmark, split, metrics, n, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    bench,
                    entry.get("split"),
                    json.dumps(entry.get("metrics") or {}),
                    entry.get("n") if isinstance(entry.get("n"), int) else None,
                    (folder / "summary.json").stat().st_mtime,
                ),
            )
            eval_id = cur.lastrowid
            dst.executemany(
                "INSERT OR IGNORE INTO samples (evaluation_id, position, sample_id, prediction,"
                " reference, score, correct, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(eval_id, i, *s) for i, s in enumerate(samples)],
            )
        report.rebuilt_evaluations.append((run_id, bench))


def _read_samples(path: Path) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if not isinstance(rec, dict) or "id" not in rec:
            continue
        extra = {k: v for k, v in rec.items() if k not in _SAMPLE_KEYS}
        score = rec.get("score")
        correct = rec.get("correct")
        out.append(
            (
                str(rec["id"]),
                None if rec.get("prediction") is None else str(rec["prediction"]),
                None if rec.get("reference") is None else str(rec["reference"]),
                score if isinstance(score, int | float) else None,
                correct if isinstance(correct, bool) else None,
                json.dumps(extra) if extra else None,
            )
        )
    return out


_SAMPLE_KEYS = {"id", "prediction", "reference", "correct", "score"}


def _rebuild_from_folders(
    dst: sqlite3.Connection, root: Path, report: Recovery, identify: Identify
) -> None:
    known = {str(r[0]): r[1] for r in dst.execute("SELECT id, folder FROM runs")}
    orphans = _orphan_points(dst)
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return
    for folder in folders:
        if not any((folder / name).is_file() for name in _FOLDER_FILES):
            continue
        meta = read_json_object(folder / "meta.json")
        run_id = None if meta is None else meta.get("run_id")
        if not isinstance(run_id, str) or not run_id:
            report.unreadable_folders.append(folder.name)
            continue
        assert meta is not None
        if run_id not in known:
            try:
                before = len(orphans)
                _rebuild_run(dst, folder, meta, _run_num(dst, run_id, orphans), identify)
                if len(orphans) < before:
                    report.rebuilt_with_points.append(run_id)
            except (sqlite3.DatabaseError, OSError, ValueError) as e:
                report.unreadable_folders.append(f"{folder.name} ({e})")
                continue
            report.rebuilt_runs.append(run_id)
        _rebuild_evaluations(dst, run_id, folder, report)


_ORPHANS = {
    "run_tags": "run_id NOT IN (SELECT id FROM runs)",
    "params": "run_id NOT IN (SELECT id FROM runs)",
    "metric_summary": "run_id NOT IN (SELECT id FROM runs)",
    "metrics": "run_num NOT IN (SELECT num FROM runs) OR key_id NOT IN (SELECT id FROM "
    "metric_keys)",
    "evaluations": "run_id NOT IN (SELECT id FROM runs)",
    "samples": "evaluation_id NOT IN (SELECT id FROM evaluations)",
    "checkpoints": "run_id NOT IN (SELECT id FROM runs)",
    "artifacts": "run_id NOT IN (SELECT id FROM runs)",
    "run_datasets": "run_id NOT IN (SELECT id FROM runs) OR dataset_id NOT IN (SELECT id "
    "FROM datasets)",
}


def _drop_orphans(dst: sqlite3.Connection, report: Recovery) -> None:
    # Runs first would orphan more rows: give a run whose experiment row was lost a new one.
    for (exp_id,) in dst.execute(
        "SELECT DISTINCT experiment_id FROM runs WHERE experiment_id NOT IN "
        "(SELECT id FROM experiments)"
    ).fetchall():
        with dst:
            dst.execute(
                "INSERT INTO experiments (id, name, created_at) VALUES (?, ?, ?)",
                (exp_id, f"recovered-{exp_id}", time.time()),
            )
    for table in ("evaluations", "samples", "run_tags", "params", "metric_summary", "metrics",
                  "checkpoints", "artifacts", "run_datasets"):  # fmt: skip
        with dst:
            n = dst.execute(f"DELETE FROM {table} WHERE {_ORPHANS[table]}").rowcount
        if n:
            report.orphans[table] = n


def _aside(db: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = db.with_name(f"{db.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = db.with_name(f"{db.name}.damaged-{stamp}-{n}")
    return target


def recover(db: Path, root: Path, *, identify: Identify) -> Recovery:
    """Rebuild ``db`` from what is readable in it and from the run folders in ``root``.

    ``identify`` gives a rebuilt run's config hash, group key and params from its config
    (:func:`trialbook.tracking.recover_database` passes the ones runs are created with).

    The damaged file (and its -wal/-shm) is renamed to ``<db>.damaged-<time>``; the new
    database takes its place. Stop every trialbook process using the workspace first.

    Raises:
        WorkspaceError: there is no such file, or its folder cannot be written.
        StoreError: the new database could not be written (nothing was renamed then).
    """
    from trialbook.store._connect import connect

    if not db.is_file():
        raise WorkspaceError(f"No database file at {db}; nothing to recover.")
    if not os.access(db.parent, os.W_OK):
        raise WorkspaceError(
            f"Cannot write in {db.parent}, where the recovered database goes; fix its "
            "permissions or copy the workspace somewhere writable."
        )
    new = db.with_name(f".{db.name}.recovering")
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{new}{suffix}").unlink(missing_ok=True)  # a previous attempt's leftovers
    report = Recovery(database=db, damaged_copy=_aside(db))
    connect(f"sqlite:///{new}", create=True, root=root).close()
    _integrity.forget_check(new)
    try:
        src = _integrity.open_readonly(db)
    except sqlite3.DatabaseError:
        src = None
    dst = sqlite3.connect(new, isolation_level=None)
    try:
        dst.execute("PRAGMA foreign_keys = OFF")
        dst.isolation_level = "DEFERRED"  # "with dst" commits
        if src is not None:
            try:
                _copy_tables(src, dst, report)
            finally:
                src.close()
        _absolute_folders_to_relative(dst, root)
        _rebuild_from_folders(dst, root, report, identify)
        _drop_orphans(dst, report)
        with dst:
            rebuild_blocks(dst, "sqlite")
        problems = dst.execute("PRAGMA integrity_check").fetchall()
        if [r[0] for r in problems] != ["ok"]:
            raise StoreError(
                f"The recovered copy {new} fails its own integrity check "
                f"({problems[0][0]}); {db} was left as it was."
            )
    except sqlite3.DatabaseError as e:
        raise StoreError(
            f"Writing the recovered database {new} failed ({e}); {db} was left as it was."
        ) from e
    finally:
        dst.close()
    for suffix in ("-wal", "-shm"):
        side = Path(f"{db}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{report.damaged_copy}{suffix}"))
    os.replace(db, report.damaged_copy)
    os.replace(new, db)
    _integrity.forget_check(db)
    _integrity.record_clean(db)
    return report


def _absolute_folders_to_relative(dst: sqlite3.Connection, root: Path) -> None:
    """Rows copied from a database of an older schema may name absolute folders."""
    from trialbook.store._paths import WorkspacePaths

    paths = WorkspacePaths(root)
    with dst:
        for run_id, folder in dst.execute("SELECT id, folder FROM runs").fetchall():
            if isinstance(folder, str) and os.path.isabs(folder):
                stored = paths.to_stored(folder)
                if stored == folder and (root / Path(folder).name).is_dir():
                    stored = Path(folder).name
                if stored != folder:
                    dst.execute("UPDATE runs SET folder = ? WHERE id = ?", (stored, run_id))
