"""A synthetic binary task with labels flipped on purpose, trained by NumPy logistic regression."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trialbook.cartography import DynamicsRecorder


@dataclass
class NoisyTask:
    recorder: DynamicsRecorder
    flipped: np.ndarray[Any, Any]
    probs: np.ndarray[Any, Any]  # (examples, epochs) gold-label probabilities, the ground truth


def train_noisy_logreg(
    seed: int = 0, n: int = 1000, d: int = 10, epochs: int = 6, flip: float = 0.1
) -> NoisyTask:
    """Mini-batch SGD on 10% flipped labels; the gold probability of every example is recorded
    after each epoch, in ten batches, as a plain training loop would."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = (x @ rng.normal(size=d) > 0).astype(int)
    flipped = rng.random(n) < flip
    y_noisy = np.where(flipped, 1 - y, y)
    w, b, lr = np.zeros(d), 0.0, 0.5
    recorder = DynamicsRecorder()
    ids = np.array([f"ex-{i}" for i in range(n)])
    history = []
    for epoch in range(epochs):
        for idx in np.array_split(rng.permutation(n), n // 50):
            g = 1 / (1 + np.exp(-(x[idx] @ w + b))) - y_noisy[idx]
            w -= lr * x[idx].T @ g / len(idx)
            b -= lr * g.mean()
        p = 1 / (1 + np.exp(-(x @ w + b)))
        gold = np.where(y_noisy == 1, p, 1 - p)
        history.append(gold)
        for idx in np.array_split(np.arange(n), 10):
            recorder.record(epoch, ids[idx], gold[idx])
    return NoisyTask(recorder, flipped, np.stack(history, axis=1))
