"""trialbook vs MLflow, side by side, in one run.

    python bench/run.py                 # full run (~5-10 min on 2 cores); rewrites README + JSON
    python bench/run.py --quick         # smaller sizes, fewer repeats (~2 min)
    python bench/run.py --only list     # one benchmark (repeatable); see --help for names

Every measurement runs in a fresh subprocess (``_trialbook_side.py`` / ``_mlflow_side.py``)
with fresh temporary folders, so neither library's imports, caches or threads leak into the
other's numbers. A full run writes ``bench/results/latest.json`` and the results section of
``bench/README.md``; a partial run (``--quick``/``--only``) writes
``bench/results/partial.json`` only, unless ``--write-readme`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

from _common import RESULT_MARKER, WORKER_ENV, calibrate_step, median  # noqa: E402

BENCH_NAMES = ("import", "log", "overhead", "list", "history")
MLFLOW_MODES = ("sync", "async", "async_buffered", "client_async")
MODE_LABELS = {
    "sync": "sync",
    "async": "async",
    "async_buffered": "async + 1 s buffer",
    "client_async": "client async + buffer",
}
README_START = "<!-- results:start (written by bench/run.py; edits inside are overwritten) -->"
README_END = "<!-- results:end -->"

#: Sizes. MLflow's synchronous calls cost milliseconds each, so its variants log fewer points;
#: every number is a per-point cost or a rate, so the sizes only change the precision.
SIZES: dict[str, dict[str, Any]] = {
    "full": {
        "import_repeats": 7,
        "log_repeats": 3,
        "log_n": {  # calls per repeat: (1 metric per call, 3 metrics per call)
            "trialbook": (100_000, 100_000),
            "sync": (150, 150),
            "async": (300, 150),
            "async_buffered": (2_000, 1_000),
            "client_async": (3_000, 1_000),
        },
        "overhead_steps": {
            "trialbook": 2_000,
            "sync": 200,
            "async": 200,
            "async_buffered": 1_000,
            "client_async": 1_000,
        },
        "overhead_repeats": {"trialbook": 7, "mlflow": 3},
        "list_runs": 10_000,
        "list_top": 100,
        "list_repeats": 5,
        "mlflow_api_runs": 200,
        "trialbook_start_run_runs": 50,
        "history_points": 20_000,
        "history_repeats": 5,
    },
    "quick": {
        "import_repeats": 3,
        "log_repeats": 1,
        "log_n": {
            "trialbook": (20_000, 20_000),
            "sync": (50, 50),
            "async": (100, 50),
            "async_buffered": (500, 300),
            "client_async": (1_000, 300),
        },
        "overhead_steps": {
            "trialbook": 1_000,
            "sync": 100,
            "async": 100,
            "async_buffered": 300,
            "client_async": 300,
        },
        "overhead_repeats": {"trialbook": 3, "mlflow": 1},
        "list_runs": 10_000,
        "list_top": 100,
        "list_repeats": 3,
        "mlflow_api_runs": 50,
        "trialbook_start_run_runs": 10,
        "history_points": 20_000,
        "history_repeats": 3,
    },
}

#: (row id, label, unit, which way is better, target operator, target value)
ROWS: list[tuple[str, str, str, str, str | None, float | None]] = [
    ("log_call_1", "Log call, 1 metric/call — caller cost per point", "µs", "lower", "<=", 2.0),
    ("log_call_3", "Log call, 3 metrics/call — caller cost per point", "µs", "lower", "<=", 2.0),
    ("durable_1", "Durable rate, 1 metric/call (log N + finish run)", "pts/s", "higher", ">=", 2e5),
    (
        "durable_3",
        "Durable rate, 3 metrics/call (log N + finish run)",
        "pts/s",
        "higher",
        ">=",
        2e5,
    ),
    ("overhead", "Overhead on a ~1 ms training step, 3 metrics/step", "%", "lower", "<", 1.0),
    (
        "overhead_attr",
        "Same loop: time in log calls + background-thread CPU",
        "%",
        "lower",
        "<",
        1.0,
    ),
    ("overhead_close", "End-of-run flush after that loop", "s", "lower", None, None),
    ("list_top", "List 10k runs: filter + sort by metric, top 100", "s", "lower", "<", 0.3),
    ("list_all", "List 10k runs: filter + sort by metric, all matches", "s", "lower", "<", 0.3),
    ("list_cold", "List top 100 in a fresh process, incl. opening", "s", "lower", None, None),
    ("history", "Read a 20,000-point metric history", "s", "lower", "<", 0.05),
    (
        "history_cold",
        "Read that history in a fresh process, incl. opening",
        "s",
        "lower",
        None,
        None,
    ),
    ("import", "Import time (fresh interpreter, minus bare startup)", "s", "lower", "<", 0.15),
]


# ---------------------------------------------------------------------------------- workers
class Harness:
    def __init__(self, workdir: Path, verbose: bool) -> None:
        self.workdir = workdir
        self.verbose = verbose
        self.env = {**os.environ, **WORKER_ENV}
        self.env.pop("MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS", None)
        self.env.pop("MLFLOW_TRACKING_URI", None)
        for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_FLUSH_INTERVAL"):
            self.env.pop(name, None)
        self.log: list[str] = []

    def worker(self, side: str, bench: str, args: dict[str, Any], timeout: float = 600) -> Any:
        """Run one benchmark in a fresh subprocess; its result dict, or {"error": ...}."""
        script = HERE / f"_{side}_side.py"
        args = {"workdir": str(self.workdir), **args}
        label = f"{side}:{bench} {args.get('mode', '')} {args.get('metrics', '')}".strip()
        self.say(f"  … {label}")
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, str(script), bench, json.dumps(args)],
                cwd=self.workdir,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:.0f} s"}
        elapsed = time.perf_counter() - t0
        for line in proc.stdout.splitlines():
            if line.startswith(RESULT_MARKER):
                result = json.loads(line[len(RESULT_MARKER) :])
                result["wall_s"] = elapsed
                self.say(f"    done in {elapsed:.1f} s")
                return result
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
        self.say(f"    FAILED (exit {proc.returncode}): {' | '.join(tail)}")
        return {"error": f"exit {proc.returncode}: " + " | ".join(tail)}

    def say(self, text: str) -> None:
        self.log.append(text)
        if self.verbose:
            print(text, file=sys.stderr, flush=True)


def _ok(result: Any) -> bool:
    return isinstance(result, dict) and "error" not in result


# ---------------------------------------------------------------------------------- benchmarks
def bench_import(h: Harness, size: dict[str, Any], sides: dict[str, bool]) -> dict[str, Any]:
    """``python -c "import X"`` minus ``python -c "pass"``, interleaved, median of repeats."""
    codes = {"baseline": "pass"}
    if sides["trialbook"]:
        codes["trialbook"] = "import trialbook"
        codes["trialbook_start_run"] = "from trialbook import start_run, open_store"
    if sides["mlflow"]:
        codes["mlflow"] = "import mlflow"
    times: dict[str, list[float]] = {k: [] for k in codes}
    h.say("  … import times")
    for _ in range(size["import_repeats"] + 1):  # the first round only warms the page cache
        for key, code in codes.items():
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, "-c", code], cwd=h.workdir, env=h.env, check=True, timeout=120
            )
            times[key].append(time.perf_counter() - t0)
    base = median(times["baseline"][1:])
    out: dict[str, Any] = {"baseline_s": base}
    for key in codes:
        if key != "baseline":
            out[key] = {"import_s": median(times[key][1:]) - base, "raw_s": times[key][1:]}
    if sides["trialbook"]:
        out["trialbook_heaviest"] = _importtime(h, "import trialbook")
        out["trialbook_start_run_heaviest"] = _importtime(
            h, "from trialbook import start_run, open_store"
        )
    return out


def _importtime(h: Harness, code: str, top: int = 6) -> list[tuple[str, float]]:
    """Import time by top-level package (sum of ``-X importtime`` self times), in ms."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=h.workdir,
        env=h.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    by_package: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            package = m.group(2).split(".")[0]
            by_package[package] = by_package.get(package, 0.0) + int(m.group(1)) / 1000
    return sorted(by_package.items(), key=lambda r: -r[1])[:top]


def bench_log(h: Harness, size: dict[str, Any], sides: dict[str, bool], template: str) -> Any:
    out: dict[str, Any] = {"trialbook": {}, "mlflow": {}}
    for metrics, idx in ((1, 0), (3, 1)):
        if sides["trialbook"]:
            n = size["log_n"]["trialbook"][idx]
            out["trialbook"][str(metrics)] = h.worker(
                "trialbook",
                "log",
                {"metrics": metrics, "n": n, "repeats": size["log_repeats"]},
            )
        if sides["mlflow"]:
            for mode in MLFLOW_MODES:
                n = size["log_n"][mode][idx]
                out["mlflow"].setdefault(mode, {})[str(metrics)] = h.worker(
                    "mlflow",
                    "log",
                    {
                        "mode": mode,
                        "metrics": metrics,
                        "n": n,
                        "repeats": size["log_repeats"],
                        "template": template,
                    },
                )
    return out


def bench_overhead(
    h: Harness, size: dict[str, Any], sides: dict[str, bool], template: str, step_reps: int
) -> Any:
    out: dict[str, Any] = {"step_reps": step_reps, "trialbook": None, "mlflow": {}}
    if sides["trialbook"]:
        out["trialbook"] = h.worker(
            "trialbook",
            "overhead",
            {
                "steps": size["overhead_steps"]["trialbook"],
                "repeats": size["overhead_repeats"]["trialbook"],
                "step_reps": step_reps,
            },
        )
    if sides["mlflow"]:
        for mode in MLFLOW_MODES:
            out["mlflow"][mode] = h.worker(
                "mlflow",
                "overhead",
                {
                    "mode": mode,
                    "steps": size["overhead_steps"][mode],
                    "repeats": size["overhead_repeats"]["mlflow"],
                    "step_reps": step_reps,
                    "template": template,
                },
            )
    return out


def bench_list(h: Harness, size: dict[str, Any], sides: dict[str, bool], template: str) -> Any:
    n = size["list_runs"]
    out: dict[str, Any] = {"runs": n}
    query = {"n": n, "top": size["list_top"], "repeats": size["list_repeats"]}
    if sides["trialbook"]:
        folder = h.workdir / "tb-list"
        pop = h.worker(
            "trialbook",
            "populate_list",
            {"dir": str(folder), "n": n, "start_run_runs": size["trialbook_start_run_runs"]},
        )
        out["trialbook_populate"] = pop
        if _ok(pop):
            out["trialbook"] = h.worker("trialbook", "query_list", {"dir": str(folder), **query})
        shutil.rmtree(folder, ignore_errors=True)
    if sides["mlflow"]:
        folder = h.workdir / "mlflow-list"
        pop = h.worker(
            "mlflow",
            "populate_list",
            {"dir": str(folder), "template": template, "n": n, "api_runs": size["mlflow_api_runs"]},
        )
        out["mlflow_populate"] = pop
        if _ok(pop):
            out["mlflow"] = h.worker("mlflow", "query_list", {"dir": str(folder), **query})
        shutil.rmtree(folder, ignore_errors=True)
    return out


def bench_history(h: Harness, size: dict[str, Any], sides: dict[str, bool], template: str) -> Any:
    n = size["history_points"]
    out: dict[str, Any] = {"points": n}
    for side in ("trialbook", "mlflow"):
        if not sides[side]:
            continue
        folder = h.workdir / f"{side}-history"
        args: dict[str, Any] = {"dir": str(folder), "n": n}
        if side == "mlflow":
            args["template"] = template
        pop = h.worker(side, "populate_history", args)
        out[f"{side}_populate"] = pop
        if _ok(pop):
            out[side] = h.worker(
                side,
                "query_history",
                {
                    "dir": str(folder),
                    "n": n,
                    "run_id": pop["run_id"],
                    "repeats": size["history_repeats"],
                },
            )
        shutil.rmtree(folder, ignore_errors=True)
    return out


# ---------------------------------------------------------------------------------- the table
def _get(d: Any, *path: str) -> float | None:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return float(d) if isinstance(d, int | float) else None


def collect_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per measurement: trialbook's value, every MLflow variant's, ratio, target."""
    b = res["benchmarks"]
    values: dict[str, tuple[float | None, dict[str, float | None]]] = {}
    log = b.get("log", {})
    for m in ("1", "3"):
        values[f"log_call_{m}"] = (
            _get(log, "trialbook", m, "caller_us_per_point"),
            {k: _get(log, "mlflow", k, m, "caller_us_per_point") for k in MLFLOW_MODES},
        )
        values[f"durable_{m}"] = (
            _get(log, "trialbook", m, "durable_points_per_s"),
            {k: _get(log, "mlflow", k, m, "durable_points_per_s") for k in MLFLOW_MODES},
        )
    ov = b.get("overhead", {})
    for row, key in (
        ("overhead", "overhead_pct"),
        ("overhead_attr", "attributed_pct"),
        ("overhead_close", "close_s"),
    ):
        values[row] = (
            _get(ov, "trialbook", key),
            {k: _get(ov, "mlflow", k, key) for k in MLFLOW_MODES},
        )
    ls = b.get("list", {})
    for row, key in (
        ("list_top", "top_s"),
        ("list_all", "all_s"),
        ("list_cold", "first_with_open_s"),
    ):
        values[row] = (_get(ls, "trialbook", key), {"sync": _get(ls, "mlflow", key)})
    hi = b.get("history", {})
    for row, key in (("history", "read_s"), ("history_cold", "first_with_open_s")):
        values[row] = (_get(hi, "trialbook", key), {"sync": _get(hi, "mlflow", key)})
    im = b.get("import", {})
    values["import"] = (_get(im, "trialbook", "import_s"), {"sync": _get(im, "mlflow", "import_s")})

    rows = []
    for rid, label, unit, better, op, target in ROWS:
        if rid not in values:
            continue
        tb, ml = values[rid]
        present = {k: v for k, v in ml.items() if v is not None}
        if tb is None and not present:
            continue
        best_mode = None
        if present:
            pick = min if better == "lower" else max
            best_mode = pick(present, key=lambda k: present[k])
        best = present.get(best_mode) if best_mode else None
        ratio = None
        if tb is not None and best is not None and unit != "%" and tb > 0 and best > 0:
            ratio = best / tb if better == "lower" else tb / best
        status = None
        if op and tb is not None and target is not None:
            ok = {"<=": tb <= target, "<": tb < target, ">=": tb >= target}[op]
            status = "PASS" if ok else "MISS"
        suffix = ""
        spread = _get(b.get("overhead", {}), "trialbook", "base_spread_pct")
        if rid == "overhead" and tb is not None and spread is not None:
            suffix = f" (noise {spread:.0f} %)"
        rows.append(
            {
                "id": rid,
                "suffix": suffix,
                "label": label,
                "unit": unit,
                "better": better,
                "trialbook": tb,
                "mlflow": ml,
                "mlflow_best": best,
                "mlflow_best_mode": best_mode,
                "ratio": ratio,
                "target": None if op is None else f"{op} {_fmt(target, unit)}",
                "status": status,
            }
        )
    return rows


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    if unit == "µs":
        text = f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
        return f"{text} µs"
    if unit == "pts/s":
        return f"{v:,.0f} pts/s"
    if unit == "%":
        return f"{v:+.1f} %" if abs(v) >= 10 else f"{v:+.2f} %"
    if unit == "s":
        if v < 0.001:
            return f"{v * 1e6:.0f} µs"
        if v < 1:
            return f"{v * 1e3:.3g} ms"
        return f"{v:.3g} s"
    return f"{v:.3g} {unit}"


def _ratio(row: dict[str, Any]) -> str:
    r = row["ratio"]
    if r is None:
        return "—"
    return f"{r:,.0f}×" if r >= 100 else f"{r:.3g}×"


def markdown_tables(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| Measurement | trialbook | MLflow (best variant) | trialbook advantage "
        "| Target | trialbook vs target |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        best = _fmt(r["mlflow_best"], r["unit"])
        if r["mlflow_best_mode"] and any(
            v is not None for k, v in r["mlflow"].items() if k != "sync"
        ):
            best += f" ({MODE_LABELS[r['mlflow_best_mode']]})"
        tb = _fmt(r["trialbook"], r["unit"]) + r["suffix"]
        lines.append(
            f"| {r['label']} | {tb} | {best} | {_ratio(r)} "
            f"| {r['target'] or ''} | {r['status'] or ''} |"
        )
    detail = [r for r in rows if sum(v is not None for v in r["mlflow"].values()) > 1]
    if detail:
        lines += [
            "",
            "MLflow logging variants (same measurements):",
            "",
            "| Measurement | " + " | ".join(MODE_LABELS[m] for m in MLFLOW_MODES) + " |",
            "| --- |" + " ---: |" * len(MLFLOW_MODES),
        ]
        for r in detail:
            cells = " | ".join(_fmt(r["mlflow"].get(m), r["unit"]) for m in MLFLOW_MODES)
            lines.append(f"| {r['label']} | {cells} |")
    return "\n".join(lines)


def print_console(rows: list[dict[str, Any]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # pragma: no cover - rich is a trialbook dependency
        print(markdown_tables(rows))
        return
    table = Table(title="trialbook vs MLflow", show_lines=False)
    for col, just in (
        ("Measurement", "left"),
        ("trialbook", "right"),
        ("MLflow best", "right"),
        ("variant", "left"),
        ("advantage", "right"),
        ("target", "left"),
        ("", "left"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for r in rows:
        status = r["status"] or ""
        style = {"PASS": "green", "MISS": "bold red"}.get(status, "")
        table.add_row(
            r["label"],
            _fmt(r["trialbook"], r["unit"]) + r["suffix"],
            _fmt(r["mlflow_best"], r["unit"]),
            MODE_LABELS.get(r["mlflow_best_mode"] or "", "")
            if sum(v is not None for v in r["mlflow"].values()) > 1
            else "",
            _ratio(r),
            r["target"] or "",
            f"[{style}]{status}[/]" if style else status,
        )
    Console(stderr=False, width=160).print(table)


# ---------------------------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    commit = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = (
            subprocess.run(
                ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or None
        )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    mem = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "trialbook": version("trialbook"),
        "mlflow": version("mlflow"),
        "sqlalchemy": version("SQLAlchemy"),
        "numpy": version("numpy"),
        "repo_commit": commit,
        "load_avg_at_start": list(load) if load else None,
    }


# ---------------------------------------------------------------------------------- output
def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def results_markdown(res: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    m = res["machine"]
    notes = res.get("notes", [])
    parts = [
        f"Command: `{res['command']}` (or `make bench`), {res['mode']} mode, "
        f"took {res['elapsed_s'] / 60:.1f} min.",
        "",
        f"Machine: {m['nproc']} cores ({m['cpu']}), {m['memory']} RAM, {m['os']}; "
        f"Python {m['python']}, SQLite {m['sqlite']}, SQLAlchemy {m['sqlalchemy']}, "
        f"numpy {m['numpy']}; trialbook {m['trialbook']} (commit {m['repo_commit']}, plus "
        f"uncommitted work), MLflow {m['mlflow']}; {m['date']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_avg_at_start'] or [])}.",
        "",
        '"trialbook advantage" is MLflow\'s best variant divided by trialbook (for rates, '
        "trialbook divided by MLflow): above 1× trialbook is better. Targets apply to "
        "trialbook only.",
        "",
        markdown_tables(rows),
    ]
    if notes:
        parts += ["", "Notes from this run:", ""] + [f"- {n}" for n in notes]
    return "\n".join(parts)


def write_readme(section: str) -> None:
    path = HERE / "README.md"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    block = f"{README_START}\n{section}\n{README_END}"
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        tail = rest.split(README_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n## Results\n\n" + block + "\n"
    _atomic_write(path, text)


def run_notes(res: dict[str, Any]) -> list[str]:
    """Facts of this run worth reading next to the table (sizes, populate costs, checks)."""
    b = res["benchmarks"]
    notes: list[str] = []
    ls = b.get("list", {})
    if _ok(ls.get("mlflow")):
        pop = ls["mlflow_populate"]
        notes.append(
            f"Listing: {ls['runs']:,} runs per side, {ls['mlflow']['matches']:,} match the "
            f"filter on both sides (checked, same order). MLflow populate: the first "
            f"{pop['api_runs']} runs through `MlflowClient` ({pop['api_ms_per_run']:.1f} ms per "
            f"run, i.e. {pop['api_ms_per_run'] * ls['runs'] / 1000:.0f} s for all "
            f"{ls['runs']:,}), the rest cloned from those rows in SQL ({pop['clone_s']:.1f} s)."
        )
    tbp = ls.get("trialbook_populate")
    if _ok(tbp):
        notes.append(
            f"trialbook populate: `start_run` costs {tbp['start_run_ms_per_run']:.1f} ms per run "
            f"(with a 2-metric log and finish, system metrics off; "
            f"{tbp['start_run_ms_per_run'] * ls['runs'] / 1000:.0f} s for {ls['runs']:,}); the "
            f"{ls['runs']:,} listed runs went through the Store API "
            f"({tbp['store_ms_per_run']:.2f} ms per run, {tbp['populate_s']:.1f} s)."
        )
    log = b.get("log", {}).get("trialbook", {})
    if _ok(log.get("1")) and _ok(log.get("3")):
        notes.append(
            "trialbook caller cost with its writer thread idle during the loop (flush at the "
            f"end only): {_fmt(log['1']['caller_us_per_point_writer_idle'], 'µs')} per point "
            f"with 1 metric/call, {_fmt(log['3']['caller_us_per_point_writer_idle'], 'µs')} "
            "with 3; the difference from the table is GIL time the writer's flushes take from "
            "a tight logging loop. Durable rate in that mode: "
            f"{_fmt(log['1']['durable_points_per_s_writer_idle'], 'pts/s')} and "
            f"{_fmt(log['3']['durable_points_per_s_writer_idle'], 'pts/s')}."
        )
    ov = b.get("overhead", {})
    tb = ov.get("trialbook")
    if _ok(tb):
        notes.append(
            f"Overhead: the step is {ov['step_reps']} chained 64×64 matmul + tanh, single-"
            f"threaded BLAS, calibrated to ~1 ms ({tb['step_ms']:.2f} ms measured on the "
            f"trialbook side); {tb['steps']:,} steps × {len(tb['repeats'])} repeats. The plain "
            f"loop alone varied by {tb['base_spread_pct']:.1f} % (median vs fastest), so the "
            "wall-clock row cannot resolve smaller differences; median of per-repeat wall "
            f"overheads {tb['overhead_pct_median_of_pairs']:+.2f} %. Attributed cost: "
            f"{tb['in_log_us_per_step']:.1f} µs per step inside `run.log` "
            f"({tb['in_log_pct']:.2f} %) + writer-thread CPU {tb['bg_cpu_pct']:.2f} % of the loop."
        )
    im = b.get("import", {})
    if isinstance(im.get("trialbook_start_run"), dict):
        notes.append(
            "`from trialbook import start_run, open_store` (the lazy imports resolved) takes "
            f"{_fmt(im['trialbook_start_run']['import_s'], 's')}; heaviest parts: "
            + ", ".join(
                f"{n} {ms:.0f} ms" for n, ms in im.get("trialbook_start_run_heaviest", [])[:4]
            )
            + "."
        )
    for name, part in b.items():
        for err in _errors(part):
            notes.append(f"ERROR in {name}: {err}")
    return notes


def _errors(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        if "error" in obj and isinstance(obj["error"], str):
            return [obj["error"]]
        return [e for v in obj.values() for e in _errors(v)]
    return []


# ---------------------------------------------------------------------------------- main
def _available(module_code: str, env: dict[str, str]) -> tuple[bool, str]:
    proc = subprocess.run(
        [sys.executable, "-c", module_code], capture_output=True, text=True, env=env, timeout=120
    )
    tail = (proc.stderr.strip().splitlines() or [""])[-1]
    return proc.returncode == 0, tail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument(
        "--only", action="append", choices=BENCH_NAMES, help="run only this benchmark (repeatable)"
    )
    parser.add_argument("--side", choices=("both", "trialbook", "mlflow"), default="both")
    parser.add_argument("--write-readme", action="store_true", help="also for partial runs")
    parser.add_argument("--out", type=Path, help="JSON output path (default: bench/results/)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    opts = parser.parse_args(argv)

    started = time.perf_counter()
    os.environ.update(WORKER_ENV)  # single-threaded BLAS for the step calibration below
    size = SIZES["quick" if opts.quick else "full"]
    benches = opts.only or list(BENCH_NAMES)
    full = not opts.quick and not opts.only and opts.side == "both"
    workdir = Path(tempfile.mkdtemp(prefix="trialbook-bench-"))
    h = Harness(workdir, verbose=not opts.quiet)
    command = " ".join(["python bench/run.py", *(sys.argv[1:] if argv is None else argv)])

    sides = {"trialbook": opts.side != "mlflow", "mlflow": opts.side != "trialbook"}
    problems: list[str] = []
    if sides["trialbook"]:
        ok, why = _available("from trialbook import start_run, open_store", h.env)
        if not ok:
            sides["trialbook"] = False
            problems.append(
                f"trialbook not measured: `from trialbook import start_run` fails ({why})"
            )
    if sides["mlflow"]:
        ok, why = _available("import mlflow", h.env)
        if not ok:
            sides["mlflow"] = False
            problems.append(
                f"MLflow not measured: `import mlflow` fails ({why}); pip install mlflow"
            )
    for p in problems:
        h.say(f"!! {p}")

    res: dict[str, Any] = {
        "command": command,
        "mode": "quick" if opts.quick else "full",
        "machine": machine_info(),
        "sizes": size,
        "benchmarks": {},
    }
    try:
        template = str(workdir / "mlflow-template.db")
        if sides["mlflow"] and set(benches) - {"import"}:
            h.say("MLflow: building the migrated template database")
            tpl = h.worker("mlflow", "make_template", {"path": template})
            if not _ok(tpl):
                sides["mlflow"] = False
                problems.append(f"MLflow template failed: {tpl.get('error')}")
        runners: dict[str, Callable[[], Any]] = {
            "import": lambda: bench_import(h, size, sides),
            "log": lambda: bench_log(h, size, sides, template),
            "list": lambda: bench_list(h, size, sides, template),
            "history": lambda: bench_history(h, size, sides, template),
        }
        for name in BENCH_NAMES:
            if name not in benches:
                continue
            h.say(f"[{name}]")
            if name == "overhead":
                step_reps, step_s = calibrate_step()
                h.say(f"  step: {step_reps} reps ≈ {step_s * 1e3:.2f} ms")
                res["benchmarks"][name] = bench_overhead(h, size, sides, template, step_reps)
            else:
                res["benchmarks"][name] = runners[name]()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    res["elapsed_s"] = time.perf_counter() - started
    rows = collect_rows(res)
    res["rows"] = rows
    res["notes"] = problems + run_notes(res)
    out = opts.out or HERE / "results" / ("latest.json" if full else "partial.json")
    _atomic_write(out, json.dumps(res, indent=2) + "\n")
    print_console(rows)
    section = results_markdown(res, rows)
    print()
    print(section)
    shown = out.relative_to(REPO) if out.is_relative_to(REPO) else out
    if full or opts.write_readme:
        write_readme(section)
        print(f"\nWrote {shown} and bench/README.md")
    else:
        print(f"\nWrote {shown} (partial run: README left alone; --write-readme to change that)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
