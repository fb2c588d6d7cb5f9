"""What each executor costs per run, and what ``start_run`` costs, beside MLflow's.

    .venv/bin/python bench/executors.py                          # --executor local
    .venv/bin/python bench/executors.py --executor local ray slurm \
        --json bench/results/executors.json
    .venv/bin/python bench/executors.py --skip-sleep             # without the 100 s part
    .venv/bin/python bench/executors.py --without-fork-server    # + local, fresh interpreters

Measured, per executor given (built by name, as ``trialbook run --executor NAME`` does):

* **no-op runs**: ``trialbook run suite.yaml --jobs 1`` over a suite of 40 runs (20 configs x
  seeds 0 and 1) whose entrypoint does nothing, then the same command again (every run is
  skipped as completed). Per-run overhead = (first - second) / 40: the second pays the CLI's
  start, the plan and the checks, so the difference is what running a run costs.
* **one-second runs**: 200 runs (100 configs x 2 seeds) whose entrypoint sleeps 1 s, with
  ``--jobs 2`` on this 2-CPU machine: the wall time (ideal: 100 s).

And once: ``trialbook.start_run`` per run in a fresh process from inside this git repository
(the call alone, and with a log and ``finish``), and ``mlflow.start_run`` with MLflow's SQLite
store the same way. Every figure is the median of ``--repeat`` rounds (the machine is shared:
the load average is printed beside them). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

TASKS = """
import time

def noop(config, run):
    return None

def sleep(config, run):
    time.sleep(1.0)
"""


def _suite(folder: Path, entrypoint: str, configs: int, seeds: int) -> Path:
    (folder / "bench_task.py").write_text(TASKS)
    (folder / "base.yaml").write_text(
        f"experiment:\n  name: bench\n  entrypoint: bench_task:{entrypoint}\ni: 0\n"
    )
    suite = folder / "suite.yaml"
    suite.write_text(
        "suite: bench\nbase: base.yaml\n"
        f"seeds: {list(range(seeds))}\n"
        f"sweep:\n  i: {list(range(configs))}\n"
    )
    return suite


#: ``local`` with its fork server off (every run a fresh interpreter), for comparison.
WITHOUT_FORK_SERVER = "local/no-fork-server"


def _trialbook_run(folder: Path, suite: Path, executor: str, jobs: int) -> float:
    env = {**os.environ, "TRIALBOOK_SYSTEM_METRICS": "0"}
    if executor == WITHOUT_FORK_SERVER:
        executor = "local"
        env["TRIALBOOK_FORK_SERVER"] = "0"
    argv = [sys.executable, "-m", "trialbook", "run", str(suite), "--jobs", str(jobs)]
    argv += ["--executor", executor, "--root", str(folder / "experiments")]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"`{' '.join(argv[2:])}` failed:\n{proc.stdout[-2000:]}{proc.stderr}")
    return wall


def noop_overhead(executor: str, runs: int = 40) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tb-exec-bench-") as tmp:
        folder = Path(tmp)
        suite = _suite(folder, "noop", runs // 2, 2)
        first = _trialbook_run(folder, suite, executor, 1)
        again = _trialbook_run(folder, suite, executor, 1)
    return {"wall_s": first, "all_skipped_s": again, "per_run_s": (first - again) / runs}


def one_second_runs(executor: str, runs: int = 200, jobs: int = 2) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tb-exec-bench-") as tmp:
        folder = Path(tmp)
        suite = _suite(folder, "sleep", runs // 2, 2)
        wall = _trialbook_run(folder, suite, executor, jobs)
    return {"runs": runs, "jobs": jobs, "wall_s": wall, "ideal_s": runs / jobs}


START_RUN = textwrap.dedent(
    """
    import json, os, statistics, sys, tempfile, time
    n = int(sys.argv[1])
    root = tempfile.mkdtemp(prefix="tb-start-bench-")
    import trialbook

    def start():
        return trialbook.start_run(
            experiment="bench", config={"lr": 1e-3}, seed=0, root=root, system_metrics=False
        )

    start().finish()  # the first run of a process imports and fills its caches
    calls, whole = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        run = start()
        t1 = time.perf_counter()
        run.log({"loss": 0.5, "acc": 0.5}, step=0)
        run.finish()
        t2 = time.perf_counter()
        calls.append(t1 - t0)
        whole.append(t2 - t0)
    print(json.dumps({"start_run_s": statistics.median(calls),
                      "start_log_finish_s": statistics.median(whole)}))
    """
)

MLFLOW_START_RUN = textwrap.dedent(
    """
    import json, logging, os, statistics, sys, tempfile, time
    n = int(sys.argv[1])
    logging.disable(logging.WARNING)
    folder = tempfile.mkdtemp(prefix="mlflow-start-bench-")
    import mlflow
    mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
    mlflow.set_experiment("bench")
    with mlflow.start_run():  # creates the schema; not timed
        pass
    calls, whole = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        mlflow.start_run()
        t1 = time.perf_counter()
        mlflow.log_params({"lr": 1e-3, "seed": 0})
        mlflow.log_metrics({"loss": 0.5, "acc": 0.5}, step=0)
        mlflow.end_run()
        t2 = time.perf_counter()
        calls.append(t1 - t0)
        whole.append(t2 - t0)
    print(json.dumps({"start_run_s": statistics.median(calls),
                      "start_log_finish_s": statistics.median(whole)}))
    """
)


def _in_fresh_process(code: str, n: int) -> dict[str, float] | str:
    proc = subprocess.run(
        [sys.executable, "-c", code, str(n)], cwd=REPO, capture_output=True, text=True
    )
    if proc.returncode != 0:
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _median_of(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "load_before": os.getloadavg(),
        "executors": {},
    }
    for name in args.executor:
        noop = _median_of([noop_overhead(name, args.runs) for _ in range(args.repeat)])
        entry: dict[str, Any] = {"noop": noop}
        print(f"{name}: {noop['per_run_s'] * 1e3:.0f} ms per no-op run", file=sys.stderr)
        if not args.skip_sleep:
            entry["one_second"] = one_second_runs(name, args.sleep_runs)
            print(f"{name}: {entry['one_second']['wall_s']:.1f} s", file=sys.stderr)
        out["executors"][name] = entry
    for key, code in (("trialbook_start_run", START_RUN), ("mlflow_start_run", MLFLOW_START_RUN)):
        rounds = [_in_fresh_process(code, args.start_runs) for _ in range(args.repeat)]
        ok = [r for r in rounds if isinstance(r, dict)]
        out[key] = _median_of(ok) if ok else {"error": rounds[0]}
    out["load_after"] = os.getloadavg()
    return out


def report(r: dict[str, Any]) -> str:
    lines = [
        f"Python {r['python']}, {r['cpus']} CPUs, median of {r['repeat']} round(s); load "
        f"{r['load_before'][0]:.1f} before, {r['load_after'][0]:.1f} after"
    ]
    for name, e in r["executors"].items():
        noop = e["noop"]
        lines.append(
            f"{name} no-op run overhead {noop['per_run_s'] * 1e3:6.0f} ms per run "
            f"(40 runs {noop['wall_s']:.1f} s, all skipped {noop['all_skipped_s']:.1f} s)"
        )
        if "one_second" in e:
            s = e["one_second"]
            lines.append(
                f"{name} {s['runs']} one-second runs, --jobs {s['jobs']}: {s['wall_s']:.1f} s "
                f"(ideal {s['ideal_s']:.0f} s)"
            )
    for key, label in (("trialbook_start_run", "trialbook"), ("mlflow_start_run", "mlflow")):
        v = r[key]
        if "error" in v:
            lines.append(f"{label}.start_run: not measured ({v['error']})")
        else:
            lines.append(
                f"{label}.start_run {v['start_run_s'] * 1e3:6.1f} ms per run; with a log and "
                f"finish {v['start_log_finish_s'] * 1e3:6.1f} ms"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executor", nargs="+", default=["local"], help="local, ray, slurm")
    parser.add_argument("--runs", type=int, default=40, help="no-op runs (even)")
    parser.add_argument("--sleep-runs", type=int, default=200, help="one-second runs (even)")
    parser.add_argument("--skip-sleep", action="store_true", help="skip the one-second runs")
    parser.add_argument("--start-runs", type=int, default=30, help="start_run calls per round")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument(
        "--without-fork-server",
        action="store_true",
        help="also measure the local executor with TRIALBOOK_FORK_SERVER=0",
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    from trialbook.execution._backends import EXECUTOR_NAMES

    for name in args.executor:
        if name not in EXECUTOR_NAMES:
            parser.error(f"unknown executor {name!r}; use one of {', '.join(EXECUTOR_NAMES)}")
    if args.without_fork_server:
        args.executor.append(WITHOUT_FORK_SERVER)
    result = measure(args)
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
