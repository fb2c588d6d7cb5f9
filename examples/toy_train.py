"""A tiny, deterministic training entrypoint for trying ``trialbook run`` on a CPU in well under a
second: logistic regression in NumPy on generated data with some flipped labels.

It reads the keys of ``examples/configs/base.yaml`` (missing ones take the defaults below) and
implements the suite's data strategies on a small scale: a two-epoch warm-up records each
training example's gold-label probability (its training dynamics), from which it derives
confidence and variability, then

* ``training.cartography_filter`` keeps the ``top_fraction`` most ambiguous examples (highest
  variability) plus every easy and hard one;
* ``training.label_smoothing`` smooths each label by ``smoothing_factor * variability``;
* ``training.soft_weighting`` weights each example's loss by its variability relative to the
  mean, clipped to ``[weight_clip_min, weight_clip_max]``.

Run it with the Runner (``trialbook run examples/configs/base.yaml``) or call it yourself::

    import trialbook
    from examples.toy_train import train

    with trialbook.start_run("toy", {"training": {"learning_rate": 0.1}}, seed=1) as run:
        print(train(run.config, run))

The data depend only on ``data.data_seed`` (default 0), so runs with different seeds see the
same examples; the seed changes the initial weights and the order of the mini-batches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_DIM = 20
_LABEL_NOISE = 0.1
_EVAL_FRACTION = 0.2
_WARMUP_EPOCHS = 2


def _section(config: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = config.get(key)
    return value if isinstance(value, Mapping) else {}


def make_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points in 20 dimensions, labelled by a random hyperplane, 10% labels flipped."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, _DIM))
    w = rng.normal(size=_DIM)
    y = (x @ w + 0.5 * rng.normal(size=n) > 0).astype(float)
    flip = rng.random(n) < _LABEL_NOISE
    y[flip] = 1.0 - y[flip]
    return x, y


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _loss(p: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None) -> float:
    eps = 1e-9
    losses = -(target * np.log(p + eps) + (1 - target) * np.log(1 - p + eps))
    return float(np.average(losses, weights=weight))


def _fit(
    x: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch: int,
    rng: np.random.Generator,
    on_step: Any = None,
    on_epoch: Any = None,
) -> tuple[np.ndarray, float]:
    w = rng.normal(scale=0.01, size=x.shape[1])
    b = 0.0
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            idx = order[start : start + batch]
            p = _sigmoid(x[idx] @ w + b)
            grad = weight[idx] * (p - target[idx])
            w -= lr * (x[idx].T @ grad) / len(idx)
            b -= lr * float(grad.mean())
            if on_step is not None:
                on_step(step, _loss(p, target[idx], weight[idx]))
            step += 1
        if on_epoch is not None:
            on_epoch(epoch, w, b)
    return w, b


def _dynamics(
    x: np.ndarray, y: np.ndarray, lr: float, batch: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence (mean) and variability (std) of each example's gold-label probability."""
    gold: list[np.ndarray] = []

    def record(_epoch: int, w: np.ndarray, b: float) -> None:
        p = _sigmoid(x @ w + b)
        gold.append(np.where(y == 1.0, p, 1.0 - p))

    ones = np.ones(len(x))
    _fit(x, y, ones, epochs=_WARMUP_EPOCHS, lr=lr, batch=batch, rng=rng, on_epoch=record)
    probs = np.stack(gold)
    return probs.mean(axis=0), probs.std(axis=0)


def train(config: Mapping[str, Any], run: Any) -> dict[str, float]:
    """Train; log ``train/loss`` per step and ``eval_loss`` / ``eval_accuracy`` per epoch;
    return the final metrics."""
    training = _section(config, "training")
    data = _section(config, "data")
    seed = int(config.get("seed") or 0)
    lr = float(training.get("learning_rate", 0.05))
    epochs = max(1, round(float(training.get("num_train_epochs", 5))))
    batch = int(training.get("per_device_train_batch_size", 32))

    x, y = make_data(int(data.get("num_samples", 2000)), int(data.get("data_seed", 0)))
    n_eval = int(len(x) * _EVAL_FRACTION)
    x_eval, y_eval, x_train, y_train = x[:n_eval], y[:n_eval], x[n_eval:], y[n_eval:]
    if training.get("max_train_samples"):
        x_train, y_train = (
            x_train[: int(training["max_train_samples"])],
            y_train[: int(training["max_train_samples"])],
        )
    if data.get("max_eval_samples"):
        x_eval, y_eval = (
            x_eval[: int(data["max_eval_samples"])],
            y_eval[: int(data["max_eval_samples"])],
        )

    rng = np.random.default_rng(seed)
    target = y_train.copy()
    weight = np.ones(len(y_train))
    strategies = {
        key: _section(training, key)
        for key in ("cartography_filter", "label_smoothing", "soft_weighting")
    }
    if any(s.get("enabled") for s in strategies.values()):
        confidence, variability = _dynamics(x_train, y_train, lr, batch, rng)
        if strategies["label_smoothing"].get("enabled"):
            factor = float(strategies["label_smoothing"].get("smoothing_factor", 0.6))
            eps = np.clip(factor * variability, 0.0, 0.5)
            target = y_train * (1 - eps) + 0.5 * eps
        if strategies["soft_weighting"].get("enabled"):
            s = strategies["soft_weighting"]
            relative = variability / max(float(variability.mean()), 1e-9)
            weight = np.clip(
                relative, s.get("weight_clip_min", 0.1), s.get("weight_clip_max", 10.0)
            )
        if strategies["cartography_filter"].get("enabled"):
            fraction = float(strategies["cartography_filter"].get("top_fraction", 0.33))
            ambiguous = np.argsort(-variability)[: max(1, int(fraction * len(x_train)))]
            keep = (confidence >= 0.7) | (confidence <= 0.3)
            keep[ambiguous] = True
            x_train, y_train, target, weight = (
                x_train[keep],
                y_train[keep],
                target[keep],
                weight[keep],
            )
        run.log_params({"train_samples_used": len(x_train)})

    def on_step(step: int, loss: float) -> None:
        run.log({"train/loss": loss}, step=step)

    def on_epoch(epoch: int, w: np.ndarray, b: float) -> None:
        p = _sigmoid(x_eval @ w + b)
        run.log(
            {"eval_loss": _loss(p, y_eval), "eval_accuracy": float(((p > 0.5) == y_eval).mean())}
        )

    w, b = _fit(
        x_train,
        target,
        weight,
        epochs=epochs,
        lr=lr,
        batch=batch,
        rng=rng,
        on_step=on_step,
        on_epoch=on_epoch,
    )
    predicted = _sigmoid(x_eval @ w + b) > 0.5
    truth = y_eval == 1.0
    tp = float(np.sum(predicted & truth))
    precision = tp / max(float(predicted.sum()), 1.0)
    recall = tp / max(float(truth.sum()), 1.0)
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {
        "eval_accuracy": float((predicted == truth).mean()),
        "eval_f1": f1,
        "eval_loss": _loss(_sigmoid(x_eval @ w + b), y_eval),
        "train_samples": float(len(x_train)),
    }
