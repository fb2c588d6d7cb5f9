"""Seed 004's training script: one config in, one tracked run out.

    python examples/summarization/train_baseline.py \\
        --config examples/summarization/configs/baseline/lead_baseline.yaml

The config is checked first (a mistake is one sentence on stderr, exit status 2, and no run is
created), then ``trialbook.start_run`` records the run: its folder holds config.yaml (the exact
config), meta.json (start time, device, environment, git), summary.json (ROUGE, runtime, end
time) and checkpoint/summarizer.json. Reproduce it from its own folder::

    python examples/summarization/train_baseline.py --config experiments/<run folder>/config.yaml

Run it from the repository root (the data paths in the configs are relative to it). The run
goes to the workspace: ``./experiments`` unless ``--root`` or ``TRIALBOOK_ROOT`` says otherwise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `examples.summarization` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from examples.summarization.summarize import (
    SummarizationConfig,
    summarize_and_score,
)

import trialbook
from trialbook.config import read_config, validate_config
from trialbook.errors import TrialbookError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the config's summariser as one tracked run; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path, help="the run's YAML config")
    parser.add_argument(
        "--name", default=None, help="the run's name (default: the config's experiment name)"
    )
    parser.add_argument("--root", default=None, help="workspace folder (default ./experiments)")
    options = parser.parse_args(argv)
    try:
        source = read_config(options.config)
        config = source.data
        typed = validate_config(config, SummarizationConfig, source)
    except TrialbookError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    with trialbook.start_run(config=config, name=options.name, root=options.root) as run:
        metrics = summarize_and_score(typed, run)
        run.log(metrics, step=0)
    scores = "  ".join(f"{key} {value:.4f}" for key, value in metrics.items())
    print(f"run {run.id} ({run.name}, seed {run.seed}): {scores}")
    folder = run.path.absolute()
    cwd = Path.cwd()
    print(f"run folder: {folder.relative_to(cwd) if folder.is_relative_to(cwd) else folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
