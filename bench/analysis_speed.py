"""Speed of the analysis statistics and the leaderboard.

    .venv/bin/python bench/analysis_speed.py                   # defaults below, ~1-2 min
    .venv/bin/python bench/analysis_speed.py --runs 2000 --repeats 3
    .venv/bin/python bench/analysis_speed.py --json bench/results/analysis_speed.json

Measured (median of ``--repeats`` after an untimed warm-up that pays for the imports):

* **paired bootstrap, 0/1 scores**: ``paired_bootstrap`` with 10,000 resamples over 10,000
  paired correct/incorrect samples (the multinomial shortcut). Target: < 1 s.
* **paired bootstrap, graded scores**: the same over 10,000 graded scores in [0, 1] (general
  resampling in chunks of ~2.5 M indices, never a 10k x 10k matrix). Target: < 1 s.
* **permutation, graded** and **McNemar** for scale.
* **leaderboard, 10,000 runs**: ``leaderboard(benchmark="gsm8k", top=20)`` by run and by group
  on a workspace of 10,000 completed runs (2,500 configs x 4 seeds, one gsm8k evaluation
  each; the 40 best runs also carry 1,319 per-sample results so the tie tests are real). The
  workspace is built through the Store API (``create_run``, ``log_evaluation``) beforehand and
  its build time is reported, not counted. Target: < 0.5 s.

Nothing here is a test; no test asserts these times.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up: imports, caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_stats(samples: int, resamples: int, repeats: int) -> dict[str, float]:
    import numpy as np

    from trialbook.analysis import (
        mcnemar_exact,
        paired_bootstrap,
        permutation_test,
    )

    rng = np.random.default_rng(0)
    a01 = (rng.random(samples) < 0.70).astype(float)
    b01 = np.where(rng.random(samples) < 0.9, a01, 1 - a01)
    ag = rng.random(samples)
    bg = np.clip(ag + rng.normal(0.01, 0.1, samples), 0, 1)
    return {
        "paired_bootstrap_binary_s": _median_time(
            lambda: paired_bootstrap(a01, b01, resamples=resamples), repeats
        ),
        "paired_bootstrap_graded_s": _median_time(
            lambda: paired_bootstrap(ag, bg, resamples=resamples), repeats
        ),
        "permutation_graded_s": _median_time(
            lambda: permutation_test(ag, bg, resamples=resamples), repeats
        ),
        "mcnemar_s": _median_time(lambda: mcnemar_exact(a01, b01), repeats),
    }


def build_workspace(root: Path, runs: int, seeds: int = 4, with_samples: int = 40) -> float:
    """``runs`` completed runs with one gsm8k evaluation each; returns the build time."""
    import numpy as np

    import trialbook
    from trialbook.store import NewRun, Sample

    rng = np.random.default_rng(1)
    configs = runs // seeds
    quality = rng.normal(0.6, 0.05, configs)
    accs = np.clip(np.repeat(quality, seeds) + rng.normal(0, 0.01, configs * seeds), 0, 1)
    best = set(np.argsort(-accs)[:with_samples].tolist())
    truth = rng.random(1319)
    t0 = time.perf_counter()
    db = trialbook.open_store(root, create=True)
    try:
        for i, acc in enumerate(accs):
            c = i // seeds
            run_id = f"20250101_000000_{i:06x}"
            db.create_run(
                NewRun(
                    id=run_id,
                    experiment="sweep",
                    name=f"cfg{c}",
                    config={"lr": float(c), "seed": i % seeds},
                    config_hash=f"{i:016x}",
                    group_key=f"{c:016x}",
                    seed=i % seeds,
                    status="completed",
                    started_at=1.7e9 + i,
                )
            )
            samples: list[Sample] = []
            if i in best:
                correct = truth < acc + rng.normal(0, 0.02)
                samples = [
                    Sample(f"q{k}", None, None, float(ok), bool(ok), {})
                    for k, ok in enumerate(correct)
                ]
            db.log_evaluation(run_id, "gsm8k", {"accuracy": float(acc)}, samples=samples)
    finally:
        db.close()
    return time.perf_counter() - t0


def bench_leaderboard(root: Path, repeats: int) -> dict[str, float]:
    import trialbook
    from trialbook.analysis import leaderboard

    db = trialbook.open_store(root)
    try:
        out = {
            "leaderboard_runs_s": _median_time(
                lambda: leaderboard(benchmark="gsm8k", top=20, store=db), repeats
            ),
            "leaderboard_groups_s": _median_time(
                lambda: leaderboard(benchmark="gsm8k", top=20, by="group", store=db), repeats
            ),
        }
        lb = leaderboard(benchmark="gsm8k", top=20, store=db)
        out["leaderboard_rows"] = float(len(db.list_runs()))
        out["leaderboard_tied_in_top20"] = float(lb["tied"].sum())
    finally:
        db.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="Also write the results to this file.")
    args = parser.parse_args(argv)
    os.environ.pop("TRIALBOOK_STORE", None)
    result: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpus": os.cpu_count(),
        "samples": args.samples,
        "resamples": args.resamples,
        "runs": args.runs,
    }
    result.update(bench_stats(args.samples, args.resamples, args.repeats))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "experiments"
        result["build_workspace_s"] = build_workspace(root, args.runs)
        result.update(bench_leaderboard(root, args.repeats))
    for key, value in result.items():
        shown = f"{value * 1000:.1f} ms" if key.endswith("_s") else value
        print(f"{key:30} {shown}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
