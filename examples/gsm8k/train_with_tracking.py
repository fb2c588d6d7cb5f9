"""A tracked "training" run on GSM8K in the shape of a real fine-tuning script, in seconds on a CPU.

The model is a :class:`~examples.gsm8k.models.NoisyOracle` whose skill is ``sigmoid(theta)``.
Training fits the one parameter ``theta`` by gradient descent on a noisy cross-entropy loss
(``-log skill`` on mini-batches, so the loss goes down and a larger learning rate gets further
in the same number of steps); then the model is scored on ``--num_samples`` GSM8K test problems.
Everything goes through ``trialbook.ExperimentTracker``::

    python examples/gsm8k/train_with_tracking.py --num_steps 100 --learning_rate 0.05 \\
        --experiment_name lr_small --notes "small learning rate"

Run it from the repository root; the runs go to the workspace (``./experiments`` unless
``--root`` or ``TRIALBOOK_ROOT`` says otherwise).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make `examples.gsm8k` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.gsm8k.models import NoisyOracle

from trialbook import BenchmarkRegistry, ExperimentTracker

_INITIAL_THETA = -2.0
_MINIBATCH_NOISE = 0.05


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--num_steps", type=int, default=100, help="training steps")
    parser.add_argument("--learning_rate", type=float, default=0.05, help="step size")
    parser.add_argument("--experiment_name", default=None, help="the run's name")
    parser.add_argument("--notes", default=None, help="free text stored with the run")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mini-batch noise")
    parser.add_argument(
        "--num_samples", type=int, default=100, help="GSM8K test problems to evaluate on"
    )
    parser.add_argument(
        "--checkpoint_every",
        type=int,
        default=0,
        help="save a checkpoint every N steps (default: at the end)",
    )
    parser.add_argument("--root", default=None, help="workspace folder (default ./experiments)")
    args = parser.parse_args(argv)
    if args.num_steps < 1:
        parser.error(f"--num_steps {args.num_steps} must be at least 1, e.g. --num_steps 100.")
    if not args.learning_rate > 0:
        parser.error(f"--learning_rate {args.learning_rate} must be positive, e.g. 0.05.")
    if args.num_samples < 1:
        parser.error(f"--num_samples {args.num_samples} must be at least 1, e.g. 100.")
    return args


def main(argv: Sequence[str] | None = None) -> str:
    """Train, evaluate and record one run; return its id."""
    args = parse_args(argv)
    config = {
        "model": "noisy_oracle",
        "num_steps": args.num_steps,
        "learning_rate": args.learning_rate,
        "initial_theta": _INITIAL_THETA,
        "num_samples": args.num_samples,
    }
    tracker = ExperimentTracker(backends=["local"], root=args.root, experiment="gsm8k")
    run_id = tracker.start_experiment(
        config, notes=args.notes, name=args.experiment_name, seed=args.seed
    )
    try:
        rng = np.random.default_rng(args.seed)
        theta = _INITIAL_THETA
        checkpoint_every = args.checkpoint_every or args.num_steps
        for step in range(1, args.num_steps + 1):
            skill = _sigmoid(theta)
            # d/dtheta of -log(sigmoid(theta)) is -(1 - skill); the noise stands in for
            # the mini-batch's deviation from the full-data gradient.
            grad = -(1.0 - skill) + float(rng.normal(0.0, _MINIBATCH_NOISE))
            theta -= args.learning_rate * grad
            loss = -math.log(_sigmoid(theta))
            tracker.log_metrics({"train/loss": loss, "train/skill": _sigmoid(theta)}, step)
            if step % checkpoint_every == 0:
                path = tracker.run.checkpoint_dir / f"step_{step}.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"theta": theta, "step": step}), encoding="utf-8")
                tracker.log_checkpoint(path, step, {"train/loss": loss})

        model = NoisyOracle(_sigmoid(theta), name=args.experiment_name or run_id)
        result = BenchmarkRegistry.evaluate(
            model=model, benchmark_name="gsm8k", num_samples=args.num_samples, progress=False
        )
        tracker.log_evaluation("gsm8k", result.to_dict())
        print(
            f"run {run_id}: skill {model.skill:.3f}, "
            f"GSM8K accuracy {result.metrics['accuracy']:.1%} on {result.n} problems"
        )
    except BaseException:
        tracker.finish_experiment("failed")
        raise
    tracker.finish_experiment("completed")
    return run_id


if __name__ == "__main__":
    main()
