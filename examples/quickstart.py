"""A small tracked training run, then the CLI shows it.

Run with `make demo` (or `python examples/quickstart.py`). It trains a tiny linear model by
gradient descent with NumPy at two learning rates over three seeds, logs every step, records
an evaluation with per-sample results, and then lists and shows the runs with the
`trialbook` command. Runs go to ./experiments (or TRIALBOOK_ROOT).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import trialbook


def train(seed: int, learning_rate: float, steps: int, root: Path) -> str:
    config = {
        "experiment": {"name": "quickstart", "description": "Linear regression by SGD"},
        "model": {"kind": "linear", "features": 8},
        "training": {"learning_rate": learning_rate, "steps": steps, "batch_size": 32},
    }
    trialbook.seed_everything(seed)
    rng = np.random.default_rng(seed)
    true_w = rng.normal(size=8)
    x = rng.normal(size=(2048, 8))
    y = x @ true_w + 0.1 * rng.normal(size=2048)
    w = np.zeros(8)
    with trialbook.start_run(config=config, seed=seed, root=root, tags=["demo"]) as run:
        for step in range(steps):
            idx = rng.integers(0, len(x), size=32)
            err = x[idx] @ w - y[idx]
            w -= learning_rate * (x[idx].T @ err) / len(idx)
            run.log({"train/loss": float(np.mean(err**2)), "lr": learning_rate}, step=step)
        # An "evaluation": predict held-out points; a prediction within 0.05 counts as correct.
        x_test = rng.normal(size=(50, 8))
        y_test = x_test @ true_w
        pred = x_test @ w
        samples = [
            {
                "id": str(i),
                "prediction": f"{p:.3f}",
                "reference": f"{t:.3f}",
                "correct": bool(abs(p - t) < 0.05),
            }
            for i, (p, t) in enumerate(zip(pred, y_test, strict=True))
        ]
        accuracy = sum(s["correct"] for s in samples) / len(samples)
        run.log_evaluation("heldout", {"metrics": {"accuracy": accuracy}, "samples": samples})
        np.save(run.checkpoint_dir / "weights.npy", w)
        run.log_checkpoint(run.checkpoint_dir / "weights.npy", step=steps)
        return run.id


def main() -> None:
    root = trialbook.Workspace.resolve().root
    print(f"workspace: {root}")
    ids = [train(seed, lr, 300, root) for lr in (0.05, 0.01) for seed in (1, 2, 3)]
    cli = [sys.executable, "-m", "trialbook"]
    subprocess.run(
        [
            *cli,
            "ls",
            "--root",
            str(root),
            "-e",
            "quickstart",
            "--sort",
            "train/loss",
            "--limit",
            "6",
        ],
        check=True,
    )
    subprocess.run([*cli, "show", ids[0], "--root", str(root)], check=True)
    subprocess.run([*cli, "stats", "--root", str(root)], check=True)
    print(f"\nRun folders are in {root}; try: .venv/bin/trialbook ls --json")


if __name__ == "__main__":
    main()
