"""The demo's entrypoint: a sentiment classifier in NumPy, trained and evaluated as one run.

``trialbook run examples/demo/suite.yaml`` calls ``train(config, run)`` once per experiment and
seed. ``model.features`` picks the model: ``words`` (logistic regression on a bag of words) or
``words+bigrams`` (the same on words and adjacent word pairs). The run logs ``train/loss`` per
step, ``val/loss`` and ``val/accuracy`` per epoch, and an evaluation on the ``reviews`` test set
with one result per review (id, correct, category), so paired tests can compare two runs.

The data depend only on ``data.seed``; the run's seed picks the training subsample, the initial
weights and the order of the mini-batches.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
from examples.demo.data import generate

BENCHMARK = "reviews"


def _tokens(text: str, bigrams: bool) -> list[str]:
    words = text.split()
    if not bigrams:
        return words
    return words + [f"{a}_{b}" for a, b in itertools.pairwise(words)]


def _features(texts: list[str], vocab: dict[str, int], bigrams: bool) -> np.ndarray:
    x = np.zeros((len(texts), len(vocab) + 1), dtype=np.float32)
    x[:, -1] = 1.0  # the bias
    for row, text in enumerate(texts):
        for token in _tokens(text, bigrams):
            column = vocab.get(token)
            if column is not None:
                x[row, column] = 1.0
    return x


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    eps = 1e-7
    return float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))


def train(config: Mapping[str, Any], run: Any) -> dict[str, float]:
    """Train one model; log its curves and its per-review evaluation; return the final metrics."""
    data, model, training = config["data"], config["model"], config["training"]
    features = str(model["features"])
    if features not in ("words", "words+bigrams"):
        raise ValueError(f"model.features is {features!r}; use 'words' or 'words+bigrams'.")
    bigrams = features == "words+bigrams"
    seed = int(config.get("seed") or 0)
    rng = np.random.default_rng(seed)

    pool = generate(
        int(data["train_size"]), int(data["seed"]), label_noise=float(data["label_noise"])
    )
    test = generate(
        int(data["test_size"]),
        int(data["seed"]) + 1,
        label_noise=float(data["label_noise"]),
        offset=len(pool),
    )
    # The seed decides which reviews train the model; the rest are the validation set.
    order = rng.permutation(len(pool))
    cut = int(len(pool) * float(training["subsample"]))
    fit = [pool[i] for i in order[:cut]]
    val = [pool[i] for i in order[cut:]]

    counts = Counter(t for row in fit for t in _tokens(str(row["text"]), bigrams))
    kept = sorted(t for t, c in counts.items() if c >= int(model["min_count"]))
    vocab = {t: i for i, t in enumerate(kept)}
    run.log_params({"vocabulary_size": len(vocab), "train_examples": len(fit)})

    def encode(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        x = _features([str(r["text"]) for r in rows], vocab, bigrams)
        return x, np.array([r["label"] for r in rows], dtype=np.float32)

    x_fit, y_fit = encode(fit)
    x_val, y_val = encode(val)
    x_test, _ = encode(test)

    w = rng.normal(scale=0.01, size=x_fit.shape[1]).astype(np.float32)
    lr, l2 = float(training["learning_rate"]), float(training["l2"])
    batch = int(training["batch_size"])
    step = 0
    for _epoch in range(int(training["epochs"])):
        perm = rng.permutation(len(x_fit))
        for start in range(0, len(perm), batch):
            idx = perm[start : start + batch]
            p = _sigmoid(x_fit[idx] @ w)
            grad = x_fit[idx].T @ (p - y_fit[idx]) / len(idx) + l2 * w
            w -= lr * grad
            run.log({"train/loss": _log_loss(p, y_fit[idx])}, step=step)
            step += 1
        if len(x_val):
            p_val = _sigmoid(x_val @ w)
            run.log(
                {
                    "val/loss": _log_loss(p_val, y_val),
                    "val/accuracy": float(((p_val > 0.5) == y_val).mean()),
                },
                step=step,
            )

    predicted = (_sigmoid(x_test @ w) > 0.5).astype(int)
    samples = [
        {
            "id": row["id"],
            "input": row["text"],
            "prediction": "positive" if pred else "negative",
            "reference": "positive" if row["label"] else "negative",
            "correct": bool(pred == row["label"]),
            "category": row["category"],
        }
        for row, pred in zip(test, predicted, strict=True)
    ]
    accuracy = sum(s["correct"] for s in samples) / len(samples)
    run.log_evaluation(BENCHMARK, {"metrics": {"accuracy": accuracy}, "samples": samples})
    return {"test_accuracy": accuracy}
