"""A workspace for the reporting tests, built once: two seed groups of three runs with curves
and evaluations (samples with a slice field), and one run whose every string is hostile HTML."""

from __future__ import annotations

import json
from collections.abc import Iterator

import matplotlib
import pytest
from report_helpers import EVIL, Workspace

import trialbook

matplotlib.use("Agg")


def _samples(seed: int, better: bool) -> list[dict[str, object]]:
    out = []
    for i in range(20):
        # The treatment gets one or two extra errors per seed, so its seeds differ too.
        correct = (i + seed) % (5 if better else 3) != 0 and not (better and i < seed)
        out.append(
            {
                "id": f"q{i}",
                "prediction": str(i if correct else -i),
                "reference": str(i),
                "correct": correct,
                "score": 1.0 if correct else 0.0,
                "difficulty": "hard" if i % 2 else "easy",
            }
        )
    return out


@pytest.fixture(scope="session")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("reporting") / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    ids: dict[str, list[str]] = {"base": [], "treat": []}
    with pytest.MonkeyPatch.context() as mp:
        for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_SYSTEM_METRICS"):
            mp.delenv(name, raising=False)
        for exp, lr, better in (("base", 0.1, False), ("treat", 0.01, True)):
            for seed in (1, 2, 3):
                config = {"lr": lr, "model": {"layers": 2}}
                with trialbook.start_run(exp, config, seed=seed, name=exp, **common) as run:
                    for step in range(5):
                        loss = 1.0 / (step + 1) + 0.01 * seed + (0.0 if better else 0.1)
                        run.log({"loss": loss, "acc": 1 - loss / 2}, step=step)
                    samples = _samples(seed, better)
                    accuracy = sum(bool(s["correct"]) for s in samples) / len(samples)
                    run.log_evaluation(
                        "quiz", {"metrics": {"accuracy": accuracy}, "samples": samples}
                    )
                    if exp == "base" and seed == 1:
                        dyn = run.folder.path / "training_dynamics.jsonl"
                        dyn.write_text(
                            "".join(
                                json.dumps({"id": f"q{i}", "gold_prob": [0.1 * (i % 10), 0.5]})
                                + "\n"
                                for i in range(30)
                            ),
                            encoding="utf-8",
                        )
                    ids[exp].append(run.id)
        evil_config = {"lr": 0.5, "comment": EVIL, EVIL: 1}
        with trialbook.start_run(
            "hostile", evil_config, seed=9, name=EVIL, notes=EVIL, **common
        ) as run:
            run.log({"loss": 1.0}, step=0)
            run.log({"loss": 0.5}, step=1)
            run.log_evaluation(
                "quiz",
                {
                    "metrics": {"accuracy": 0.0},
                    "samples": [
                        {"id": EVIL, "prediction": EVIL, "reference": "<b>x</b>", "correct": False}
                    ],
                },
            )
            evil = run.id
        yield Workspace(root, ids["base"], ids["treat"], evil)


@pytest.fixture
def db(ws: Workspace) -> Iterator[trialbook.Store]:
    with trialbook.open_store(ws.root) as store:
        yield store
