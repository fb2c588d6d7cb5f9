"""A workspace for the one-run and compare API tests, made with ``trialbook.start_run``.

* experiment ``train``: seed groups ``base`` (lr 0.1, seeds 1-3) and ``tuned`` (lr 0.2, seeds
  1-3). Each run logs ``loss`` at steps 0..99 (tuned lower) and ``system/cpu_percent``, and is
  evaluated on ``gsm8k`` (samples q0..q39, 0/1 correctness, inputs that include hostile text).
* ``base`` seed 1 also has an artifact image ``plot.png``, a text artifact ``notes.txt``, a
  checkpoint, a ``stdout.log``/``stderr.log`` and a ``training_dynamics.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import trialbook

N_SAMPLES = 40
STEPS = 100
HOSTILE = "<img src=x onerror=window.__pwned=1>"
#: A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _samples(rng: np.random.Generator, p: float) -> list[dict[str, Any]]:
    return [
        {
            "id": f"q{i}",
            "input": f"question {i} {HOSTILE}" if i == 0 else f"question {i}",
            "prediction": f"p{i}",
            "reference": f"r{i}",
            "correct": bool(rng.random() < p),
        }
        for i in range(N_SAMPLES)
    ]


def build(root: Path) -> dict[str, Any]:
    """Create the workspace; returns ``{"base": [ids], "tuned": [ids], "rich": id}``."""
    common: dict[str, Any] = {"root": root, "system_metrics": False, "capture_packages": False}
    ids: dict[str, Any] = {"base": [], "tuned": []}
    for name, lr, p in (("base", 0.1, 0.4), ("tuned", 0.2, 0.8)):
        for seed in (1, 2, 3):
            rng = np.random.default_rng(seed * 10 + int(p * 10))
            with trialbook.start_run(
                "train", {"lr": lr, "layers": 2}, seed=seed, name=name, **common
            ) as run:
                for step in range(STEPS):
                    run.log(
                        {
                            "loss": (1.0 - p / 2) / (1 + step) + 0.01 * seed,
                            "system/cpu_percent": 50.0,
                        },
                        step=step,
                    )
                run.log_evaluation(
                    "gsm8k",
                    {"metrics": {"accuracy": p}, "samples": _samples(rng, p)},
                )
                if name == "base" and seed == 1:
                    _extras(run)
                ids[name].append(run.id)
    ids["rich"] = ids["base"][0]
    return ids


def _extras(run: Any) -> None:
    folder = Path(run.path)
    (folder / "plot.png").write_bytes(PNG)
    run.log_artifact(folder / "plot.png")
    notes = folder / "notes.txt"
    notes.write_text("hello", encoding="utf-8")
    run.log_artifact(notes)
    ckpt = folder / "model.pt"
    ckpt.write_bytes(b"weights")
    run.log_checkpoint(ckpt, step=99)
    (folder / "stdout.log").write_text("line 1\nline 2 \u00e9\n", encoding="utf-8")
    (folder / "stderr.log").write_text("warning!\n", encoding="utf-8")
    with (folder / "training_dynamics.jsonl").open("w", encoding="utf-8") as f:
        for i in range(N_SAMPLES):
            probs = [0.2 + 0.01 * i, 0.5, 0.9 - 0.01 * i]
            f.write(json.dumps({"id": f"q{i}", "gold_prob": probs}) + "\n")
