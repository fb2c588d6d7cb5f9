"""trialbook's write speed on PostgreSQL, beside SQLite, plain COPY and MLflow, in one run.

    python bench/postgres.py                  # full sizes, 5 rounds (~5 min on 2 cores)
    python bench/postgres.py --quick          # smaller sizes, 2 rounds (~1 min)
    python bench/postgres.py --write-readme   # also rewrite the results in bench/README.md

One throwaway PostgreSQL server (``trialbook.testing.stores.local_postgres``: initdb into a
temporary folder, Unix socket only) serves every side. Each round runs every side once, each
in a fresh subprocess with a fresh database (``_postgres_side.py``), in an order that rotates
from round to round; the table shows medians over the rounds. For each of 1 and 3 metrics
per ``run.log`` call:

* trialbook on its default SQLite workspace store, and on the PostgreSQL server: the logging
  script, durable rate (points ÷ time from the first call until the run is left, every point
  committed) and caller cost (the loop alone, µs per point), and the flush at finish;
* plain psycopg: the same points by binary COPY into trialbook's ``metrics`` table of a run
  (the ceiling);
* trialbook and the plain COPY again with the two foreign keys of ``metrics`` that schema
  tb0004 dropped on PostgreSQL added back (the schema before it: what they cost);
* MLflow on the same server, through its SQLAlchemy tracking store directly:
  ``log_batch`` of 1,000 metrics (its most per call), synchronously. MLflow's asynchronous
  modes end in the same ``log_batch`` calls (at most 1,000 metrics each) on a thread, so
  this is its fastest durable path; its caller cost is the whole call.

Results go to ``bench/results/postgres.json`` (``postgres-partial.json`` with ``--quick``).
Nothing here is a test: no test asserts wall-clock time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from _common import median  # noqa: E402
from run import Harness, _atomic_write, _fmt, _ok, machine_info  # noqa: E402

README_START = (
    "<!-- postgres:start (written by bench/postgres.py; edits inside are overwritten) -->"
)
README_END = "<!-- postgres:end -->"

#: Calls per repeat for (1 metric per call, 3 metrics per call). MLflow takes ~0.15 s per
#: 1,000 points, so it logs fewer; every number is a rate or a per-point cost.
SIZES: dict[str, dict[str, Any]] = {
    "full": {"rounds": 5, "calls": (100_000, 50_000), "mlflow_calls": (20_000, 7_000)},
    "quick": {"rounds": 2, "calls": (20_000, 10_000), "mlflow_calls": (3_000, 1_000)},
}

#: (name in the results, worker bench, extra args, label).
SIDES: list[tuple[str, str, dict[str, Any], str]] = [
    ("trialbook_sqlite", "trialbook", {"sqlite": True}, "trialbook, SQLite workspace store"),
    ("trialbook_postgres", "trialbook", {}, "trialbook, PostgreSQL"),
    (
        "trialbook_with_fk",
        "trialbook",
        {"with_fk": True},
        "trialbook, PostgreSQL, tb0003's `metrics` with foreign keys",
    ),
    (
        "copy",
        "copy",
        {"with_fk": False},
        "plain psycopg COPY into `metrics`, rows built beforehand",
    ),
    (
        "copy_script",
        "copy",
        {"with_fk": False, "script": True},
        "plain psycopg COPY script: the same loop appends rows, then COPY (timed like trialbook)",
    ),
    ("copy_with_fk", "copy", {"with_fk": True}, "plain COPY, tb0003's `metrics` with foreign keys"),
    ("mlflow", "mlflow", {}, "MLflow 1,000-metric `log_batch`, PostgreSQL"),
]
#: Ratios reported: name -> (numerator side, denominator side).
RATIOS = {
    "postgres_over_copy": ("trialbook_postgres", "copy"),
    "postgres_over_copy_script": ("trialbook_postgres", "copy_script"),
    "postgres_over_mlflow": ("trialbook_postgres", "mlflow"),
    "postgres_over_sqlite": ("trialbook_postgres", "trialbook_sqlite"),
    "with_fk_over_copy_with_fk": ("trialbook_with_fk", "copy_with_fk"),
    "with_fk_over_mlflow": ("trialbook_with_fk", "mlflow"),
    "copy_with_fk_over_copy": ("copy_with_fk", "copy"),
}
TARGET_COPY = 0.70
TARGET_MLFLOW = 20.0


def measure(h: Harness, server: str, size: dict[str, Any], log: list[dict[str, Any]]) -> Any:
    template = "mlflow_template"
    from sqlalchemy import create_engine, text

    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{template}"'))
    admin.dispose()
    made = h.worker("postgres", "mlflow_template", {"server": server, "database": template})
    if not _ok(made):
        raise SystemExit(f"MLflow could not create its tables: {made.get('error')}")
    reps: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for rnd in range(size["rounds"]):
        order = SIDES[rnd % len(SIDES) :] + SIDES[: rnd % len(SIDES)]
        load_start = os.getloadavg()[0]
        h.say(f"round {rnd + 1}/{size['rounds']} (load {load_start:.2f})")
        for metrics, idx in ((1, 0), (3, 1)):
            for name, bench, extra, _label in order:
                calls = size["mlflow_calls" if bench == "mlflow" else "calls"][idx]
                args: dict[str, Any] = {"server": server, "calls": calls, "metrics": metrics}
                args.update(extra)
                if extra.get("sqlite"):
                    args["server"] = None
                if bench == "mlflow":
                    args["template"] = template
                result = h.worker("postgres", bench, args)
                if not _ok(result):
                    raise SystemExit(f"{name} failed: {result.get('error')}")
                result["round"] = rnd
                reps.setdefault(str(metrics), {}).setdefault(name, []).append(result)
        log.append({"round": rnd, "load_start": load_start, "load_end": os.getloadavg()[0]})
    return reps


def summarise(reps: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for metrics, sides in reps.items():
        s: dict[str, Any] = {}
        for name, results in sides.items():
            rates = [r["durable_points_per_s"] for r in results]
            s[name] = {
                "durable_points_per_s": median(rates),
                "min": min(rates),
                "max": max(rates),
                "points": results[0]["points"],
            }
            for field in ("caller_us_per_point", "finish_s"):
                if field in results[0]:
                    s[name][field] = median([r[field] for r in results])
        # Each ratio is taken within a round (both sides under the same load), then the
        # median over the rounds: steadier than a ratio of medians on a shared machine.
        per_round = {
            key: [
                a["durable_points_per_s"] / b["durable_points_per_s"]
                for a, b in zip(sides[top], sides[bottom], strict=True)
            ]
            for key, (top, bottom) in RATIOS.items()
        }
        s["ratios"] = {key: median(values) for key, values in per_round.items()}
        s["ratios"]["per_round"] = per_round
        out[metrics] = s
    return out


def _pct(x: float) -> str:
    return f"{x * 100:.0f} %"


def _times(x: float) -> str:
    return f"{x:.3g}×"


def markdown(res: dict[str, Any]) -> str:
    m, s, size = res["machine"], res["summary"], res["sizes"]
    starts = ", ".join(f"{x['load_start']:.2f}" for x in res["load"])
    parts = [
        f"Command: `{res['command']}`, {res['mode']} mode, {size['rounds']} rounds, took "
        f"{res['elapsed_s'] / 60:.1f} min.",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']} RAM; Python {m['python']}, "
        f"PostgreSQL {res['postgres_version']}, psycopg {res['psycopg']}, SQLite {m['sqlite']}, "
        f"SQLAlchemy {m['sqlalchemy']}; trialbook commit {m['repo_commit']}, MLflow "
        f"{m['mlflow']}; {m['date']}; load average (1 min) at the start of each round "
        f"{starts}.",
        "",
        "Durable rate: median over the rounds (lowest-highest in brackets). Points per repeat: "
        f"{s['1']['trialbook_postgres']['points']:,} and {s['3']['trialbook_postgres']['points']:,}"
        f" (MLflow {s['1']['mlflow']['points']:,} and {s['3']['mlflow']['points']:,}).",
        "",
        "| Side | 1 metric/call: durable | caller cost | flush at finish "
        "| 3 metrics/call: durable | caller cost | flush at finish |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, _bench, _extra, label in SIDES:
        cells = []
        for metrics in ("1", "3"):
            r = s[metrics][name]
            rate = (
                f"{r['durable_points_per_s']:,.0f} pts/s "
                f"({r['min'] / 1000:,.0f}k-{r['max'] / 1000:,.0f}k)"
            )
            caller = _fmt(r.get("caller_us_per_point"), "µs")
            finish = _fmt(r.get("finish_s"), "s") if "finish_s" in r else "—"
            cells += [rate, caller if "caller_us_per_point" in r else "—", finish]
        parts.append(f"| {label} | " + " | ".join(cells) + " |")
    parts += [
        "",
        "Ratios: each taken within a round (both sides under the same load), median over "
        "the rounds.",
        "",
        "| Ratio (trialbook on PostgreSQL ÷ ...) | 1 metric/call | 3 metrics/call | Target "
        "| Result |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    rows = [
        (
            "a plain psycopg COPY script, timed the same way (first call → committed)",
            "postgres_over_copy_script",
            _pct,
            f">= {TARGET_COPY:.0%}",
        ),
        (
            "plain COPY of rows built beforehand (COPY + commit only)",
            "postgres_over_copy",
            _pct,
            f"({TARGET_COPY:.0%})",
        ),
        ("MLflow on the same server", "postgres_over_mlflow", _times, f">= {TARGET_MLFLOW:.0f}×"),
        ("trialbook on SQLite", "postgres_over_sqlite", _pct, ""),
    ]
    for label, key, fmt, target in rows:
        got = [s[mm]["ratios"][key] for mm in ("1", "3")]
        result = ""
        if key in ("postgres_over_copy", "postgres_over_copy_script"):
            result = "PASS" if min(got) >= TARGET_COPY else "MISS"
        elif key == "postgres_over_mlflow":
            result = "PASS" if min(got) >= TARGET_MLFLOW else "MISS"
        parts.append(f"| {label} | {fmt(got[0])} | {fmt(got[1])} | {target} | {result} |")
    parts.append(
        "| *With tb0003's foreign keys of `metrics` (the schema before tb0004):* | | | | |"
    )
    for label, key, fmt in (
        ("trialbook ÷ plain COPY, both with them", "with_fk_over_copy_with_fk", _pct),
        ("trialbook ÷ MLflow", "with_fk_over_mlflow", _times),
        ("plain COPY with them ÷ without them", "copy_with_fk_over_copy", _pct),
    ):
        got = [s[mm]["ratios"][key] for mm in ("1", "3")]
        parts.append(f"| {label} | {fmt(got[0])} | {fmt(got[1])} | | |")
    per_round = [
        f"{mm} metric{'s' if mm == '3' else ''}/call: "
        + ", ".join(_pct(x) for x in s[mm]["ratios"]["per_round"][key])
        for key in ("postgres_over_copy_script", "postgres_over_copy")
        for mm in ("1", "3")
    ]
    parts += [
        "",
        "trialbook on PostgreSQL ÷ the plain COPY script, round by round: "
        + "; ".join(per_round[:2])
        + ". ÷ the COPY of rows built beforehand: "
        + "; ".join(per_round[2:])
        + ".",
    ]
    return "\n".join(parts)


def write_readme(section: str) -> None:
    path = HERE / "README.md"
    text = path.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise SystemExit(f"bench/README.md has no {README_START} ... {README_END} block")
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    _atomic_write(path, head + f"{README_START}\n{section}\n{README_END}" + tail)


def _versions(server: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy import create_engine, text

    engine = create_engine(server)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar())
    engine.dispose()
    return version, psycopg.__version__


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, 2 rounds")
    parser.add_argument("--rounds", type=int, help="override the number of rounds")
    parser.add_argument("--write-readme", action="store_true", help="rewrite README's results")
    parser.add_argument("--out", type=Path, help="JSON output path (default: bench/results/)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    opts = parser.parse_args(argv)

    from trialbook.testing.stores import local_postgres

    started = time.perf_counter()
    size = dict(SIZES["quick" if opts.quick else "full"])
    if opts.rounds:
        size["rounds"] = opts.rounds
    command = " ".join(["python bench/postgres.py", *(sys.argv[1:] if argv is None else argv)])
    res: dict[str, Any] = {
        "command": command,
        "mode": "quick" if opts.quick else "full",
        "machine": machine_info(),
        "sizes": size,
        "load": [],
    }
    with tempfile.TemporaryDirectory(prefix="trialbook-pgbench-") as tmp:
        h = Harness(Path(tmp), verbose=not opts.quiet)
        with local_postgres() as server:
            res["postgres_version"], res["psycopg"] = _versions(server)
            h.say(f"PostgreSQL {res['postgres_version']} at {server}")
            res["repeats"] = measure(h, server, size, res["load"])
    res["elapsed_s"] = time.perf_counter() - started
    res["summary"] = summarise(res["repeats"])
    section = markdown(res)
    out = opts.out or HERE / "results" / (
        "postgres-partial.json" if opts.quick else "postgres.json"
    )
    _atomic_write(out, json.dumps(res, indent=2) + "\n")
    print(section)
    shown = out.relative_to(REPO) if out.is_relative_to(REPO) else out
    if opts.write_readme:
        write_readme(section)
        print(f"\nWrote {shown} and bench/README.md")
    else:
        print(f"\nWrote {shown} (README left alone; --write-readme to change that)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
