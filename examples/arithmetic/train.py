"""Seed 003's training steps as trialbook entrypoints: ``train_token_only`` and ``train_hybrid``.

``trialbook run examples/arithmetic/configs/arithmetic_small.yaml`` calls them once per seed
(experiments ``token_only`` and ``hybrid``). Each run

1. reads the data of ``paths.data_dir``, generating it first if the folder is empty (so the
   suite runs in one command; see data.py for why two runs may do that at once safely);
2. trains the model with the run's seed (``torch.manual_seed``), logging ``train/loss``;
3. saves ``checkpoints/model.pt`` in the run folder (``run.log_checkpoint``);
4. scores every test split (scoring.py) and logs one evaluation per split, writes
   ``<results_dir>/<model>/seed_<seed>/evaluation_results.json`` and a bar plot of
   in-distribution against out-of-distribution splits (a run artifact).

torch is imported inside the functions: ``trialbook run`` checks the typed config
(:class:`ArithmeticConfig`) by importing this module, which stays quick.
"""

from __future__ import annotations

import random
import time
from typing import TYPE_CHECKING, Any

from examples.arithmetic.config import ArithmeticConfig
from examples.arithmetic.data import ensure_data, splits_of

if TYPE_CHECKING:
    from torch import nn

    from trialbook import Run


def max_answer(train: list[dict[str, Any]]) -> int:
    """How many characters the token-only model may write: two more than the longest training
    answer, as a generation length is set from the data it was trained on."""
    return max(len(str(r["target"])) for r in train) + 2


def train_token_only(config: ArithmeticConfig, run: Run) -> dict[str, float]:
    """Seed 003's ``train_token_only.py``: the character-level transformer baseline."""
    return _train(config, run, "token_only")


def train_hybrid(config: ArithmeticConfig, run: Run) -> dict[str, float]:
    """Seed 003's ``train_hybrid.py``: the algebraic number embedding with type embeddings."""
    return _train(config, run, "hybrid")


def predict(model: nn.Module, rows: list[dict[str, Any]], task: str, limit: int) -> list[str]:
    from examples.arithmetic import models

    if isinstance(model, models.HybridModel):
        return models.hybrid_predict(model, rows, task)
    assert isinstance(model, models.TokenOnlyModel)
    return models.token_only_predict(model, rows, limit)


def score_and_record(
    config: ArithmeticConfig,
    run: Run,
    kind: str,
    model: nn.Module,
    splits: dict[str, list[dict[str, Any]]],
    *,
    limit: int,
    log_evaluations: bool,
) -> dict[str, dict[str, float]]:
    """Score the test splits; log evaluations (training runs) or metrics (``evaluate``); write
    evaluation_results.json of this model and seed; return split -> metrics."""
    from examples.arithmetic.config import result_settings
    from examples.arithmetic.scoring import atomic_write_json, results_path, score_split

    results: dict[str, dict[str, float]] = {}
    for split in splits_of(config.task)[1:]:
        rows = splits[split]
        summary, evaluations = score_split(
            config.task, split, rows, predict(model, rows, config.task, limit)
        )
        results[split] = summary
        if log_evaluations:
            for benchmark, result in evaluations.items():
                run.log_evaluation(benchmark, result, split=split)
    path = results_path(config.paths.results_dir, kind, config.seed)
    atomic_write_json(
        path,
        {
            "task": config.task,
            "model": kind,
            "seed": config.seed,
            "run_id": run.id,
            # What made these numbers: a config of other settings refuses this results_dir.
            "settings": result_settings(config.task, config.data, config.model, config.training),
            "splits": results,
        },
    )
    return results


def _train(config: ArithmeticConfig, run: Run, kind: str) -> dict[str, float]:
    import torch
    from examples.arithmetic import models
    from examples.arithmetic.scoring import plot_results

    torch.manual_seed(config.seed or 0)
    torch.set_num_threads(int(config.training.threads))
    rng = random.Random(config.seed or 0)
    splits = ensure_data(config)
    train = splits["train"]
    m, t = config.model, config.training
    model = models.build(kind, m.hidden_dim, m.num_layers, m.num_heads, m.dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=t.learning_rate)
    total_steps = t.epochs * -(-len(train) // t.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=t.learning_rate, total_steps=total_steps, pct_start=0.1
    )
    run.log_params(
        {
            "model_kind": kind,
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_examples": len(train),
        }
    )
    started = time.monotonic()
    step = 0
    for epoch in range(t.epochs):
        model.train()
        order = list(range(len(train)))
        rng.shuffle(order)
        total = 0.0
        for start in range(0, len(order), t.batch_size):
            rows = [train[i] for i in order[start : start + t.batch_size]]
            if kind == "hybrid":
                assert isinstance(model, models.HybridModel)
                loss = models.hybrid_loss(model, rows, config.task)
            else:
                assert isinstance(model, models.TokenOnlyModel)
                loss = models.token_only_loss(model, rows)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            value = float(loss.detach())
            total += value * len(rows)
            run.log({"train/loss": value}, step=step)
            step += 1
        run.log({"train/epoch_loss": total / len(train), "epoch": epoch + 1}, step=step)
    run.log({"train/seconds": time.monotonic() - started}, step=step)

    path = run.checkpoint_dir / "model.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "kind": kind,
            "task": config.task,
            "model": config.model.model_dump(),
            "max_answer": max_answer(train),
            "state_dict": model.state_dict(),
        },
        path,
    )
    run.log_checkpoint(path, step=step)

    results = score_and_record(
        config, run, kind, model, splits, limit=max_answer(train), log_evaluations=True
    )
    plot = plot_results({kind: results}, run.artifacts_dir / "id_vs_ood.png")
    run.log_artifact(plot, kind="plot")
    final = {
        f"{split}/{k}": v
        for split, ms in results.items()
        for k, v in ms.items()
        if not k.startswith("n")
    }
    return final
