"""The Runner's own cost per run: N runs of an entrypoint that does nothing, through the Runner.

    .venv/bin/python bench/runner_overhead.py              # 20 runs, one at a time
    .venv/bin/python bench/runner_overhead.py -n 40 --seeds 2   # seeds 0 and 1 in turn
    .venv/bin/python bench/runner_overhead.py -n 40 --jobs 2
    .venv/bin/python bench/runner_overhead.py --json bench/results/runner_overhead.json

Each run has its own seed unless ``--seeds N`` (then seeds 0..N-1 in turn). Reported per run
(medians over the runs, plus the mean for the total):

* **total**: the Runner's wall time for the whole suite (planning checks, queueing every run,
  launching, recording outcomes) divided by the number of runs. The entrypoint does nothing,
  so all of it is overhead. Target: < 0.5 s per run.
* **start-up**: from the moment the run's process exists (``Popen`` returned) to the first
  line of the entrypoint (interpreter start, trialbook and Store imports, attaching to the
  queued run, provenance in meta.json, importing the entrypoint's module).
* **shut-down**: from the entrypoint's return to the process's exit (final metrics, flush,
  summary.json, Store close, interpreter exit).
* **runner**: total minus the process's lifetime: what the Runner itself spends per run.
* **python -c pass**: a bare interpreter start on this machine, for scale.

Nothing here is a test; no test asserts these times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NOOP = """
import json, os, time

def noop(config, run):
    entered = time.time()
    path = os.path.join(os.environ["TRIALBOOK_RUN_DIR"], "timing.json")
    with open(path, "w") as f:
        json.dump({"entered": entered}, f)
    return {"done": 1.0}
"""


def _bare_python(repeats: int = 7) -> float:
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def measure(n: int, jobs: int, seeds: int = 0) -> dict[str, Any]:
    from trialbook.config import config_hash, group_key
    from trialbook.config._plan import Plan, PlannedRun
    from trialbook.execution import LocalExecutor, Runner, TaskHandle, TaskResult

    results: dict[str, TaskResult] = {}

    class Recording(LocalExecutor):
        """Keeps every task's result: when its process started and how long it lived."""

        def wait(
            self, handles: Sequence[TaskHandle], timeout: float | None = None
        ) -> list[TaskResult]:
            done = super().wait(handles, timeout)
            for result in done:
                results[result.key] = result
            return done

    with tempfile.TemporaryDirectory(prefix="tb-runner-bench-") as tmp:
        cwd = Path(tmp)
        (cwd / "noop_task.py").write_text(NOOP)
        runs = []
        for i in range(n):
            config = {"experiment": {"name": "noop", "entrypoint": "noop_task:noop"}, "i": i}
            config["seed"] = i % seeds if seeds else i
            runs.append(
                PlannedRun(f"noop{i}", "noop", config, i, config_hash(config), group_key(config))
            )
        runner = Runner(
            root=cwd / "experiments",
            cwd=cwd,
            executor=Recording(jobs),
            progress="quiet",
        )
        old = os.getcwd()
        os.chdir(cwd)
        try:
            t0 = time.perf_counter()
            suite = runner.run(Plan(tuple(runs)))
            wall = time.perf_counter() - t0
        finally:
            os.chdir(old)
        if not suite.ok:
            failures = [o.error for o in suite.outcomes if o.status != "completed"]
            raise SystemExit(f"benchmark runs failed: {failures[:1]}")
        startup, shutdown, lifetime = [], [], []
        for outcome in suite.outcomes:
            result = results[outcome.run_id or ""]
            assert result.started_at is not None
            with open(cwd / "experiments" / _folder(outcome.run_id or "", cwd)) as f:
                entered = json.load(f)["entered"]
            startup.append(entered - result.started_at)
            shutdown.append(result.started_at + result.duration - entered)
            lifetime.append(result.duration)
    per_run = wall / n
    return {
        "runs": n,
        "jobs": jobs,
        "seeds": seeds or n,
        "wall_s": wall,
        "total_per_run_s": per_run,
        "startup_median_s": statistics.median(startup),
        "shutdown_median_s": statistics.median(shutdown),
        "process_median_s": statistics.median(lifetime),
        # With jobs > 1 processes overlap; the Runner's share is what the wall time adds to
        # the processes' lifetimes spread over the jobs.
        "runner_per_run_s": per_run - sum(lifetime) / n / jobs,
        "python_pass_s": _bare_python(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


def _folder(run_id: str, cwd: Path) -> Path:
    short = run_id.rsplit("_", 1)[-1]
    [folder] = [p for p in (cwd / "experiments").iterdir() if p.name.endswith("_" + short)]
    return folder / "timing.json"


def report(r: dict[str, Any]) -> str:
    rows = [
        ("total per run (wall / runs)", r["total_per_run_s"]),
        ("  process start -> entrypoint's first line", r["startup_median_s"]),
        ("  entrypoint return -> process exit", r["shutdown_median_s"]),
        ("  the Runner's own share", r["runner_per_run_s"]),
        ("python -c pass (for scale)", r["python_pass_s"]),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{r['runs']} no-op runs, --jobs {r['jobs']}, Python {r['python']}, {r['cpus']} CPUs"]
    lines += [f"{name.ljust(width)}  {value * 1000:7.0f} ms" for name, value in rows]
    verdict = "meets" if r["total_per_run_s"] < 0.5 else "misses"
    lines.append(f"target < 500 ms per run: {verdict}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--runs", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument(
        "--seeds", type=int, default=0, help="seeds 0..N-1 in turn (default: each run its own)"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    args = parser.parse_args()
    os.environ.setdefault("TRIALBOOK_SYSTEM_METRICS", "0")
    result = measure(args.runs, args.jobs, args.seeds)
    print(report(result))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
