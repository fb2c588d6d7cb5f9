"""Helpers shared by the benchmark harness (run.py) and both sides' worker scripts.

Nothing here imports trialbook or MLflow, so either side can use it without paying for the
other's import.
"""

from __future__ import annotations

import json
import logging
import os
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

#: A worker prints exactly one line starting with this marker; the rest of its output is noise.
RESULT_MARKER = "@@BENCH_RESULT@@ "

#: Environment every worker runs with: no telemetry (this machine has no network besides the
#: package registries, and telemetry would add background work), single-threaded BLAS so the
#: simulated training step has the same cost on both sides, quiet MLflow logging.
WORKER_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_LOGGING_LEVEL": "ERROR",
    "MLFLOW_CONFIGURE_LOGGING": "false",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
    "GIT_PYTHON_REFRESH": "quiet",
    "TQDM_DISABLE": "1",
}


def quiet() -> None:
    """Silence warnings and library logging in a worker process."""
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    for name in ("mlflow", "alembic", "sqlalchemy", "urllib3", "git"):
        logging.getLogger(name).setLevel(logging.ERROR)


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def emit(result: dict[str, Any]) -> None:
    """Hand the result to the harness (one marked JSON line on stdout)."""
    sys.stdout.flush()
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


def worker_main(benches: dict[str, Callable[[dict[str, Any]], dict[str, Any]]]) -> None:
    """``python bench/_<side>_side.py BENCH 'JSON-ARGS'``: run one benchmark, emit its result."""
    quiet()
    name, args = sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    if name not in benches:
        raise SystemExit(f"unknown benchmark {name!r}; known: {', '.join(sorted(benches))}")
    result = benches[name](args)
    emit(result)
    # Leave without running atexit hooks: a side's background threads must not add to the
    # harness's wall time once the measurement is over (everything measured is already durable).
    sys.stderr.flush()
    os._exit(0)


# ------------------------------------------------------------------ the simulated training step
def make_step(reps: int) -> Callable[[], float]:
    """A ~1 ms unit of numpy work (``reps`` small matmuls); returns a float so it isn't elided.

    It releases the GIL inside BLAS like real framework kernels do, and holds it between
    kernels like a Python training loop does.
    """
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 64))
    b = rng.standard_normal((64, 64)) * 0.01

    def step() -> float:
        x = a
        for _ in range(reps):
            x = np.tanh(x @ b)
        return float(x[0, 0])

    return step


def calibrate_step(target_s: float = 1e-3) -> tuple[int, float]:
    """How many reps of :func:`make_step` take ``target_s``; returns (reps, measured seconds)."""
    probe = make_step(10)
    for _ in range(50):
        probe()
    per_rep = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(100):
            probe()
        per_rep.append((time.perf_counter() - t0) / 1000)
    reps = max(1, round(target_s / min(per_rep)))
    step = make_step(reps)
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(200):
            step()
        samples.append((time.perf_counter() - t0) / 200)
    return reps, median(samples)


def time_loop(step: Callable[[], float], n: int) -> dict[str, float]:
    """Wall and CPU seconds for ``n`` plain steps."""
    c0, m0, t0 = time.process_time(), time.thread_time(), time.perf_counter()
    for _ in range(n):
        step()
    wall = time.perf_counter() - t0
    return {"wall": wall, "cpu": time.process_time() - c0, "main_cpu": time.thread_time() - m0}


def time_logged_loop(
    step: Callable[[], float], n: int, log: Callable[[int, float], None]
) -> dict[str, float]:
    """Like :func:`time_loop`, each step followed by ``log(i, value)``.

    Also returns ``in_log``, the wall time spent inside the ``log`` calls (two extra
    ``perf_counter`` calls per step, ~0.2 µs, are the price), and ``bg_cpu``, the CPU time of
    every other thread of the process during the loop (a side's background writer).
    """
    clock = time.perf_counter
    in_log = 0.0
    c0, m0, t0 = time.process_time(), time.thread_time(), clock()
    for i in range(n):
        v = step()
        a = clock()
        log(i, v)
        in_log += clock() - a
    wall = clock() - t0
    cpu, main_cpu = time.process_time() - c0, time.thread_time() - m0
    return {
        "wall": wall,
        "cpu": cpu,
        "main_cpu": main_cpu,
        "in_log": in_log,
        "bg_cpu": max(0.0, cpu - main_cpu),
    }


def measure_overhead(
    step: Callable[[], float],
    steps: int,
    repeats: int,
    open_run: Callable[[], Callable[[int, float], None]],
    close_run: Callable[[], None],
) -> dict[str, Any]:
    """Training-loop overhead of logging, identical protocol for both sides.

    Each repeat times ``steps`` steps without logging and ``steps`` steps logging 3 metrics per
    step (alternating which goes first), in the same process. Opening the run and the final
    flush are outside the timed loop; the flush is reported as ``close_s``.

    * ``overhead_pct`` (the brief's definition, wall clock): the fastest logged loop against
      the fastest plain loop (noise on a shared machine only ever adds time). The median of
      the per-repeat overheads is kept too. Both are only as good as ``base_spread_pct``.
    * ``attributed_pct``: what logging itself cost, measured absolutely rather than as a
      difference of two noisy loops: time inside the log calls plus the CPU time of the
      side's background threads, over the plain loop's time (median of repeats). An upper
      bound when background threads mostly run in parallel on another core.
    """
    time_loop(step, 200)  # warm-up
    reps = []
    for rep in range(repeats):
        if rep % 2:
            base = time_loop(step, steps)
        logger = open_run()
        logged = time_logged_loop(step, steps, logger)
        t0 = time.perf_counter()
        close_run()
        close_s = time.perf_counter() - t0
        if not rep % 2:
            base = time_loop(step, steps)
        reps.append(
            {
                "base_s": base["wall"],
                "logged_s": logged["wall"],
                "base_cpu_s": base["cpu"],
                "logged_cpu_s": logged["cpu"],
                "in_log_s": logged["in_log"],
                "bg_cpu_s": logged["bg_cpu"],
                "close_s": close_s,
                "overhead_pct": (logged["wall"] - base["wall"]) / base["wall"] * 100,
                "attributed_pct": (logged["in_log"] + logged["bg_cpu"]) / base["wall"] * 100,
            }
        )
    best_base = min(r["base_s"] for r in reps)
    best_logged = min(r["logged_s"] for r in reps)
    med_base = median([r["base_s"] for r in reps])
    return {
        "overhead_pct": (best_logged - best_base) / best_base * 100,
        "overhead_pct_median_of_pairs": median([r["overhead_pct"] for r in reps]),
        "attributed_pct": median([r["attributed_pct"] for r in reps]),
        "in_log_pct": median([r["in_log_s"] / r["base_s"] * 100 for r in reps]),
        "bg_cpu_pct": median([r["bg_cpu_s"] / r["base_s"] * 100 for r in reps]),
        "in_log_us_per_step": median([r["in_log_s"] for r in reps]) / steps * 1e6,
        "step_ms": best_base / steps * 1e3,
        # How much the plain loop itself varied (median vs fastest): wall-clock overheads
        # smaller than this are not resolved on this machine.
        "base_spread_pct": (med_base - best_base) / best_base * 100,
        "close_s": median([r["close_s"] for r in reps]),
        "steps": steps,
        "repeats": reps,
    }


# ------------------------------------------------------------------ the 10,000-run data set
LRS = (0.1, 0.01, 0.001, 0.0001)
OPTIMIZERS = ("adam", "sgd", "adamw")
BATCH_SIZES = (32, 64, 128)


@dataclass(frozen=True)
class RunSpec:
    """One synthetic run of the listing benchmark (identical on both sides)."""

    index: int
    name: str
    completed: bool
    lr: float
    batch_size: int
    optimizer: str
    seed: int
    loss: float
    acc: float
    started_at: float


def run_specs(n: int, seed: int = 0) -> list[RunSpec]:
    """``n`` runs: 90% completed, lr uniform over four values, loss uniform in [0, 1)."""
    rng = random.Random(seed)
    base = 1_700_000_000.0
    specs = []
    for i in range(n):
        loss = rng.random()
        specs.append(
            RunSpec(
                index=i,
                name=f"run-{i:05d}",
                completed=rng.random() < 0.9,
                lr=rng.choice(LRS),
                batch_size=rng.choice(BATCH_SIZES),
                optimizer=rng.choice(OPTIMIZERS),
                seed=i % 5,
                loss=loss,
                acc=1.0 - loss * rng.uniform(0.5, 1.0),
                started_at=base + 60.0 * i,
            )
        )
    return specs


#: The query both sides answer: completed runs with lr = 0.001 and loss < 0.5, by loss ascending.
QUERY_LR = 0.001
QUERY_LOSS_BELOW = 0.5


def expected_matches(specs: Sequence[RunSpec]) -> list[RunSpec]:
    hits = [s for s in specs if s.completed and s.lr == QUERY_LR and s.loss < QUERY_LOSS_BELOW]
    return sorted(hits, key=lambda s: s.loss)
