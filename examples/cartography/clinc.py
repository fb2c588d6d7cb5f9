"""CLINC150 and a fastText-style intent classifier in torch, trained on the CPU.

The data (``data/clinc150/data_full.json``, CC BY 3.0, Larson et al. 2019; see
``data/clinc150/SOURCE.md``) are read with stable example ids (``train-00042``,
``oos_test-00007``). The oos-train scheme of the paper is used: ``oos`` is a 151st class trained
on ``oos_train``.

The model is fastText's supervised classifier (Joulin et al., 2017): the mean of the embeddings
of an example's words and hashed word bigrams (``nn.EmbeddingBag(mode="mean")``), then a linear
layer. Gradients of the embedding table are sparse (only the rows a batch touches), so a large
bucket table costs nothing per step.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DATA_FILE = Path(__file__).resolve().parent / "data" / "clinc150" / "data_full.json"
OOS = "oos"
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass
class Split:
    """Examples of one split: parallel lists of ids, texts and labels (intent names)."""

    ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, index: Sequence[int]) -> Split:
        return Split(
            [self.ids[i] for i in index],
            [self.texts[i] for i in index],
            [self.labels[i] for i in index],
        )


def load_clinc(
    path: str | Path | None = None, *, max_intents: int | None = None
) -> dict[str, Split]:
    """``train``, ``val`` and ``test`` of CLINC150 Full, each in-scope plus out-of-scope.

    ``max_intents`` keeps the first N in-scope intents (sorted by name) and ``oos``: a small
    task for tests with the same shape.
    """
    raw = json.loads(Path(path or DATA_FILE).read_text(encoding="utf-8"))
    intents = sorted({label for _, label in raw["train"]})
    if max_intents is not None:
        intents = intents[:max_intents]
    keep = {*intents, OOS}
    out: dict[str, Split] = {}
    for name in ("train", "val", "test"):
        split = Split()
        for part in (name, f"oos_{name}"):
            for number, (text, label) in enumerate(raw[part]):
                if label in keep:
                    split.ids.append(f"{part}-{number:05d}")
                    split.texts.append(text)
                    split.labels.append(label)
        out[name] = split
    return out


def subsample(split: Split, n: int | None, seed: int) -> Split:
    """The first ``n`` examples of a fixed shuffle (``seed``), in their original order; all
    of them when ``n`` is None. The same n and seed always give the same examples."""
    if n is None or n >= len(split):
        return split
    order = np.random.default_rng(seed).permutation(len(split))[:n]
    return split.take(sorted(order.tolist()))


def flip_labels(split: Split, fraction: float, classes: Sequence[str], seed: int) -> set[str]:
    """Give ``fraction`` of the examples (chosen with ``seed``) a different, random label, in
    place; returns the ids that were flipped."""
    if fraction <= 0:
        return set()
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(split), size=round(fraction * len(split)), replace=False)
    flipped: set[str] = set()
    for i in sorted(chosen.tolist()):
        others = [c for c in classes if c != split.labels[i]]
        split.labels[i] = others[int(rng.integers(len(others)))]
        flipped.add(split.ids[i])
    return flipped


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class Featurizer:
    """Words (a vocabulary from the training texts) and hashed word n-grams (2..word_ngrams)
    as rows of one embedding table: words first, then ``buckets`` hash buckets."""

    def __init__(self, texts: Sequence[str], *, buckets: int, word_ngrams: int, min_count: int):
        counts = Counter(t for text in texts for t in tokens(text))
        self.vocab = {
            w: i for i, w in enumerate(sorted(w for w, c in counts.items() if c >= min_count))
        }
        self.buckets = buckets
        self.word_ngrams = word_ngrams

    @property
    def size(self) -> int:
        return len(self.vocab) + self.buckets

    def ids(self, text: str) -> list[int]:
        words = tokens(text)
        # Unknown words are dropped, as fastText does; their n-grams still count.
        out = [self.vocab[w] for w in words if w in self.vocab]
        base = len(self.vocab)
        for n in range(2, self.word_ngrams + 1):
            for k in range(len(words) - n + 1):
                # crc32, not hash(): the same bucket in every process whatever PYTHONHASHSEED
                gram = " ".join(words[k : k + n]).encode()
                out.append(base + zlib.crc32(gram) % self.buckets)
        return out

    def encode(self, texts: Sequence[str]) -> tuple[Any, Any]:
        """(flat ids, offsets) for ``nn.EmbeddingBag``."""
        import torch

        flat: list[int] = []
        offsets: list[int] = []
        for text in texts:
            offsets.append(len(flat))
            flat.extend(self.ids(text))
        return torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


def make_model(vocab_size: int, dim: int, classes: int) -> Any:
    import torch
    from torch import nn

    class FastText(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.EmbeddingBag(vocab_size, dim, mode="mean", sparse=True)
            self.out = nn.Linear(dim, classes)
            # fastText's initialisation: small uniform input vectors, a zero output layer
            nn.init.uniform_(self.embedding.weight, -1.0 / dim, 1.0 / dim)
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def embed(self, flat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
            result: torch.Tensor = self.embedding(flat, offsets)
            return result

        def forward(self, flat: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
            result: torch.Tensor = self.out(self.embed(flat, offsets))
            return result

    return FastText()


def batches(n: int, size: int) -> list[range]:
    return [range(s, min(s + size, n)) for s in range(0, n, size)]


class Encoded:
    """A split's features cut into fixed batches, computed once."""

    def __init__(self, featurizer: Featurizer, texts: Sequence[str]):
        self.rows = [featurizer.ids(t) for t in texts]

    def batch(self, index: Sequence[int]) -> tuple[Any, Any]:
        import torch

        flat: list[int] = []
        offsets: list[int] = []
        for i in index:
            offsets.append(len(flat))
            flat.extend(self.rows[i])
        return torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


def predict(model: Any, encoded: Encoded, batch_size: int = 1024) -> tuple[Any, Any]:
    """(probabilities, mean embeddings) of every example, as NumPy arrays."""
    import torch

    probs, embeds = [], []
    model.eval()
    with torch.no_grad():
        for part in batches(len(encoded.rows), batch_size):
            flat, offsets = encoded.batch(part)
            e = model.embed(flat, offsets)
            probs.append(torch.softmax(model.out(e), dim=-1).numpy())
            embeds.append(e.numpy())
    model.train()
    return np.concatenate(probs), np.concatenate(embeds)


def scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """In-scope accuracy, out-of-scope recall, overall accuracy and macro F1.

    Macro F1 is the mean F1 over the in-scope intents, computed on every test query: an
    out-of-scope query predicted as an intent is a false positive of that intent, an in-scope
    query predicted ``oos`` a false negative of its intent.
    """
    g, p = np.asarray(gold), np.asarray(predicted)
    inscope = g != OOS
    f1s = []
    for intent in sorted(set(g[inscope])):
        tp = float(np.sum((g == intent) & (p == intent)))
        fp = float(np.sum((g != intent) & (p == intent)))
        fn = float(np.sum((g == intent) & (p != intent)))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return {
        "in_scope_accuracy": float(np.mean(g[inscope] == p[inscope])) if inscope.any() else 0.0,
        "oos_recall": float(np.mean(p[~inscope] == OOS)) if (~inscope).any() else 0.0,
        "accuracy": float(np.mean(g == p)),
        "macro_f1": float(np.mean(f1s)) if f1s else 0.0,
    }


def fit(
    model: Any,
    encoded: Encoded,
    targets: Any,
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    seed: int,
    smoothing: Any = None,
    weights: Any = None,
    on_epoch: Any = None,
    on_step: Any = None,
    optimizer: str = "adam",
) -> None:
    """Mini-batch training with Adam (sparse for the embedding table, dense for the output
    layer) or, with ``optimizer="sgd"``, plain SGD as fastText itself trains (with batch size
    1, its per-example updates); the learning rate decays linearly to 0 as in fastText.

    ``smoothing`` (per example, label-smoothing epsilon) mixes the one-hot target with the
    uniform distribution; ``weights`` (per example) multiply each example's loss.
    ``on_epoch(epoch)`` runs after each epoch, ``on_step(step, loss)`` after each update.
    """
    import torch

    n = len(encoded.rows)
    y = torch.as_tensor(np.asarray(targets), dtype=torch.long)
    eps = torch.as_tensor(
        np.zeros(n) if smoothing is None else np.asarray(smoothing), dtype=torch.float32
    )
    w = torch.as_tensor(np.ones(n) if weights is None else np.asarray(weights), dtype=torch.float32)
    if optimizer == "sgd":
        # SGD takes the embedding table's sparse gradients as they are.
        sparse = torch.optim.SGD(list(model.embedding.parameters()), lr=learning_rate)
        dense: Any = torch.optim.SGD(list(model.out.parameters()), lr=learning_rate)
    else:
        sparse = torch.optim.SparseAdam(list(model.embedding.parameters()), lr=learning_rate)
        dense = torch.optim.Adam(list(model.out.parameters()), lr=learning_rate)
    steps_per_epoch = max(1, -(-n // batch_size))
    total = max(1, epochs * steps_per_epoch)
    rng = np.random.default_rng(seed)
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(n)
        for part in batches(n, batch_size):
            index = order[part.start : part.stop]
            flat, offsets = encoded.batch(index.tolist())
            logp = torch.log_softmax(model(flat, offsets), dim=-1)
            idx = torch.as_tensor(index)
            gold = -logp.gather(1, y[idx].unsqueeze(1)).squeeze(1)
            uniform = -logp.mean(dim=1)
            loss_i = (1 - eps[idx]) * gold + eps[idx] * uniform
            loss = (w[idx] * loss_i).mean()
            lr = learning_rate * (1.0 - step / total)
            for opt in (sparse, dense):
                for group in opt.param_groups:
                    group["lr"] = lr
                opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            sparse.step()  # type: ignore[no-untyped-call]
            dense.step()
            if on_step is not None:
                on_step(step, float(loss.detach()))
            step += 1
        if on_epoch is not None:
            on_epoch(epoch)
