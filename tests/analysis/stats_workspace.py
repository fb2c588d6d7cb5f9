"""A small workspace of known runs for the significance, compare and leaderboard tests.

* experiment ``sft``: seed group ``base`` (lr 1e-4, rank 8, seeds 1-3) and seed group ``tuned``
  (lr 3e-4, rank 16, seeds 1-3), each run evaluated on ``gsm8k`` with 0/1 correctness on
  samples ``q0``..``q299`` (tuned is right more often) and logging ``loss``;
* ``graded-a`` / ``graded-b``: ``summ`` evaluations with graded per-sample scores (``rouge``);
* ``shifted``: gsm8k on samples ``q100``..``q399`` (ids that do not match);
* ``mmlu-only``: an mmlu evaluation only;
* ``no-samples``: gsm8k accuracy without per-sample results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import trialbook

N = 300


def _correct(rng: np.random.Generator, p: float, ids: range) -> list[dict[str, Any]]:
    return [
        {"id": f"q{i}", "prediction": "x", "reference": "y", "correct": bool(rng.random() < p)}
        for i in ids
    ]


def build(root: Path) -> dict[str, Any]:
    """Create the workspace under ``root``; returns ``{name: run id or list of ids}``."""
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    ids: dict[str, Any] = {"base": [], "tuned": []}
    for name, lr, rank, p in (("base", 1e-4, 8, 0.55), ("tuned", 3e-4, 16, 0.75)):
        for seed in (1, 2, 3):
            rng = np.random.default_rng(seed * 100 + rank)
            config = {"lr": lr, "lora": {"rank": rank}, "steps": 100}
            with trialbook.start_run("sft", config, seed=seed, name=name, **common) as run:
                run.log({"loss": 1.0 - p + seed * 0.01}, step=0)
                samples = _correct(rng, p, range(N))
                acc = sum(s["correct"] for s in samples) / N
                run.log_evaluation("gsm8k", {"metrics": {"accuracy": acc}, "samples": samples})
                ids[name].append(run.id)
    rng = np.random.default_rng(0)
    base_scores = rng.random(200)
    for name, shift in (("graded-a", 0.0), ("graded-b", 0.05)):
        scores = np.clip(base_scores + shift + rng.normal(0, 0.05, 200), 0, 1)
        with trialbook.start_run("summ", {"model": name}, name=name, **common) as run:
            run.log_evaluation(
                "summ",
                {
                    "metrics": {"rouge": float(scores.mean())},
                    "samples": [
                        {"id": f"s{i}", "prediction": "p", "reference": "r", "score": float(s)}
                        for i, s in enumerate(scores)
                    ],
                },
            )
            ids[name] = run.id
    with trialbook.start_run("sft", {"lr": 1e-3}, name="shifted", **common) as run:
        samples = _correct(np.random.default_rng(9), 0.6, range(100, 100 + N))
        run.log_evaluation("gsm8k", {"metrics": {"accuracy": 0.6}, "samples": samples})
        ids["shifted"] = run.id
    with trialbook.start_run("other", {"lr": 1e-3}, name="mmlu-only", **common) as run:
        run.log_evaluation("mmlu", {"accuracy": 0.4})
        ids["mmlu-only"] = run.id
    with trialbook.start_run("other", {"lr": 2e-3}, name="no-samples", **common) as run:
        run.log_evaluation("gsm8k", {"accuracy": 0.61})
        ids["no-samples"] = run.id
    return ids
