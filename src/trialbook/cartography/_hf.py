"""Hugging Face Trainer callback recording training dynamics (transformers imported lazily)."""

from __future__ import annotations

from typing import Any

from trialbook.cartography._recorder import DynamicsRecorder
from trialbook.errors import ConfigError

__all__ = ["TrialbookDynamicsCallback"]


try:
    # This module loads only when TrialbookDynamicsCallback is first accessed (the package's
    # lazy map), so importing trialbook.cartography never imports transformers.
    from transformers import TrainerCallback
except ImportError:
    raise ConfigError(
        "TrialbookDynamicsCallback needs transformers; install it with pip install 'trialbook[hf]'."
    ) from None


class TrialbookDynamicsCallback(TrainerCallback):
    """Records per-example gold-label probabilities at each epoch end of a Hugging Face Trainer.

    ``TrialbookDynamicsCallback(recorder, train_dataset)``: at every epoch end the model scores
    ``train_dataset`` (rows with ``id_column``, ``label_column`` and the model's inputs; a list
    of dicts or a ``datasets.Dataset`` with torch format) in order with dropout off, and
    records each example's gold-label probability and whether it was predicted; at train end
    ``recorder.save()`` writes ``training_dynamics.jsonl`` (``save=False`` to skip). Rows
    without ``id_column`` are identified by their position.
    """

    def __init__(
        self,
        recorder: DynamicsRecorder,
        train_dataset: Any,
        *,
        id_column: str = "id",
        label_column: str = "labels",
        batch_size: int = 64,
        data_collator: Any = None,
        save: bool = True,
    ):
        self.recorder = recorder
        self.train_dataset = train_dataset
        self.id_column = id_column
        self.label_column = label_column
        self.batch_size = batch_size
        self.data_collator = data_collator
        self.save = save
        self._epoch = 0

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        """Score the whole train set (in order, no dropout) and record the gold probabilities."""
        import torch

        model = kwargs.get("model")
        if model is None:
            raise ConfigError(
                "The Trainer gave TrialbookDynamicsCallback no model; add the callback to a "
                "transformers Trainer (callbacks=[...])."
            )
        ids_all: list[str] = []
        collate = self.data_collator or _default_collate
        # Plain slices in dataset order: the Trainer's own dataloader shuffles and drops columns.
        data = self.train_dataset
        loader = (
            [dict(data[n]) for n in range(start, min(start + self.batch_size, len(data)))]
            for start in range(0, len(data), self.batch_size)
        )
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        try:
            with torch.no_grad():
                for rows in loader:
                    ids = [
                        str(r.pop(self.id_column)) if self.id_column in r else str(n)
                        for n, r in enumerate(rows, start=len(ids_all))
                    ]
                    ids_all.extend(ids)
                    batch = collate(rows)
                    labels = batch[self.label_column].to(device)
                    inputs = {k: v.to(device) for k, v in batch.items() if hasattr(v, "to")}
                    logits = model(**inputs).logits
                    probs = torch.softmax(logits.float(), dim=-1)
                    gold = probs.gather(1, labels.view(-1, 1)).squeeze(1)
                    correct = probs.argmax(dim=-1) == labels
                    self.recorder.record(self._epoch, ids, gold, correct)
        finally:
            model.train(was_training)
        self._epoch += 1
        return control

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if self.save and self._epoch:
            self.recorder.save()
        return control


def _default_collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    from transformers import default_data_collator

    return dict(default_data_collator(rows))
