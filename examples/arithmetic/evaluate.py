"""Seed 003's ``eval.py`` as an entrypoint: re-score the saved checkpoints of both models.

The ``evaluate`` experiment of a suite file runs once per seed. For its seed it finds, in the
same workspace, the completed ``token_only`` and ``hybrid`` runs of the same config (same
file, same overrides: their config hash differs from this run's only by the experiment's name
and entrypoint), loads each run's ``checkpoints/model.pt``, scores every test split again,
and writes

* ``<results_dir>/<model>/seed_<seed>/evaluation_results.json`` (the same numbers the training
  run wrote, recomputed from the checkpoint);
* ``<results_dir>/evaluation_results.json``: every model and seed found under results_dir,
  ``{"task", "models": {model: {"seed_<n>": {split: metrics}}}, "mean": {model: {split:
  metrics}}}``;
* a bar plot of in-distribution against out-of-distribution splits for both models (a run
  artifact), and the numbers as metrics ``<model>/<split>/<metric>``.

When the whole suite runs at once (``--jobs 2``), an ``evaluate`` run may start while a
training run of its seed is still running: it waits for it (polling the Store). With no such
run at all, it stops with the command to run first (one sentence, naming both models when
both are missing), before it writes anything.
"""

from __future__ import annotations

import copy
import fcntl
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from examples.arithmetic.config import ArithmeticConfig
from examples.arithmetic.data import ensure_data

from trialbook import ConfigError, RunQuery
from trialbook.config import config_hash

if TYPE_CHECKING:
    from trialbook import Run
    from trialbook.store import RunRecord, Store

MODELS = {
    "token_only": "examples.arithmetic.train:train_token_only",
    "hybrid": "examples.arithmetic.train:train_hybrid",
}
WAIT_RUNNING = 6 * 3600.0  # a training run still running: wait this long at most
WAIT_QUEUED = 120.0  # queued but not started: the runner starts it within moments, or never
POLL = 2.0


def training_config(config: dict[str, Any], model: str) -> dict[str, Any]:
    """The config of the ``model`` training run that shares this run's file and overrides."""
    plain = copy.deepcopy(config)
    block = dict(plain.get("experiment") or {})
    block.pop("command", None)
    block.update(name=model, entrypoint=MODELS[model])
    plain["experiment"] = block
    return plain


def find_training_run(
    store: Store, config: dict[str, Any], model: str
) -> tuple[RunRecord | None, str]:
    """The latest completed training run of ``model`` for this config, waiting while one is
    queued or running; ``(None, why)`` when there is none."""
    wanted = config_hash(training_config(config, model))
    started = time.monotonic()
    while True:
        runs = store.list_runs(RunQuery(config_hash=wanted))
        done = [r for r in runs if r.status == "completed"]
        if done:
            return max(done, key=lambda r: r.ended_at or 0.0), ""
        waited = time.monotonic() - started
        running = any(r.status == "running" for r in runs) and waited < WAIT_RUNNING
        queued = any(r.status == "queued" for r in runs) and waited < WAIT_QUEUED
        if not (running or queued):
            failed = [r for r in runs if r.status in ("failed", "crashed", "killed")]
            return None, f"its last attempt {failed[0].status}" if failed else "none has run"
        time.sleep(POLL)


def training_runs(store: Store, config: dict[str, Any], seed: int | None) -> dict[str, RunRecord]:
    """Both models' training runs of this seed and config; one ConfigError naming the command
    to run first when any is missing."""
    found: dict[str, RunRecord] = {}
    missing: dict[str, str] = {}
    for model in MODELS:
        record, why = find_training_run(store, config, model)
        if record is None:
            missing[model] = why
        else:
            found[model] = record
    if missing:
        names = " and ".join(missing)
        whys = "; ".join(f"{model}: {why}" for model, why in missing.items())
        suite = next(iter(missing)) if len(missing) == 1 else "compare"
        raise ConfigError(
            f"No completed {names} run{'s' if len(missing) > 1 else ''} of seed {seed} with "
            f"this config in the workspace ({whys}); train first with the same suite file and "
            f"overrides: `trialbook run <suite file> --suite {suite} --seeds {seed}`, then "
            "evaluate again."
        )
    return found


def _load(record: RunRecord, store: Store) -> tuple[Any, int]:
    import torch
    from examples.arithmetic import models

    checkpoints = store.checkpoints(record.id)
    if not checkpoints or not Path(checkpoints[-1].path).is_file():
        raise ConfigError(
            f"Run {record.id} has no checkpoint file any more; run it again with "
            f"`trialbook run ... --rerun`."
        )
    saved = torch.load(checkpoints[-1].path, map_location="cpu", weights_only=True)
    m = saved["model"]
    model = models.build(
        saved["kind"], m["hidden_dim"], m["num_layers"], m["num_heads"], m["dropout"]
    )
    model.load_state_dict(saved["state_dict"])
    return model, int(saved["max_answer"])


def merge_results(results_dir: Path) -> dict[str, Any]:
    """Every ``<model>/seed_*/evaluation_results.json`` under results_dir, and the mean over
    seeds per model and split."""
    models: dict[str, dict[str, Any]] = {}
    task = None
    for path in sorted(results_dir.glob("*/seed_*/evaluation_results.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        task = data.get("task", task)
        models.setdefault(path.parent.parent.name, {})[path.parent.name] = data["splits"]
    mean: dict[str, dict[str, dict[str, float]]] = {}
    for model, seeds in models.items():
        splits = next(iter(seeds.values()))
        mean[model] = {
            split: {
                key: sum(s[split][key] for s in seeds.values()) / len(seeds)
                for key in splits[split]
                if all(split in s and key in s[split] for s in seeds.values())
            }
            for split in splits
        }
    return {"task": task, "models": models, "mean": mean}


def evaluate(config: ArithmeticConfig, run: Run) -> dict[str, float]:
    """Re-score both models' checkpoints of this seed; write the merged evaluation_results.json."""
    import torch
    from examples.arithmetic.scoring import atomic_write_json, plot_results
    from examples.arithmetic.train import score_and_record

    torch.set_num_threads(int(config.training.threads))
    # The training runs first: without them, this run fails before it writes anything.
    records = training_runs(run.store, dict(run.config), config.seed)
    splits = ensure_data(config)
    found: dict[str, dict[str, dict[str, float]]] = {}
    for model, record in records.items():
        run.log_params({f"{model}_run": record.id})
        network, limit = _load(record, run.store)
        found[model] = score_and_record(
            config, run, model, network, splits, limit=limit, log_evaluations=False
        )
    results_dir = Path(config.paths.results_dir)
    # Several evaluate runs (one per seed) may merge at once: one at a time.
    with (results_dir / ".merge.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        atomic_write_json(results_dir / "evaluation_results.json", merge_results(results_dir))
    plot = plot_results(found, run.artifacts_dir / "id_vs_ood.png")
    run.log_artifact(plot, kind="plot")
    return {
        f"{model}/{split}/{key}": value
        for model, splits_ in found.items()
        for split, metrics in splits_.items()
        for key, value in metrics.items()
        if key != "n" and not key.startswith("n_") and math.isfinite(value)
    }
