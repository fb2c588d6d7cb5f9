"""TrialbookDynamicsCallback driven the way a Hugging Face Trainer drives its callbacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trialbook.cartography import DynamicsRecorder, cartography_metrics
from trialbook.errors import ConfigError

pytestmark = pytest.mark.slow  # importing transformers' Trainer machinery takes seconds

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


def _tiny_task() -> tuple[Any, list[dict[str, Any]]]:
    from transformers.modeling_outputs import SequenceClassifierOutput

    class Tiny(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(4, 3)
            self.dropout = torch.nn.Dropout(0.5)  # must be off while scoring

        def forward(self, x: Any, labels: Any = None) -> Any:
            logits = self.linear(self.dropout(x))
            loss = None if labels is None else torch.nn.functional.cross_entropy(logits, labels)
            return SequenceClassifierOutput(loss=loss, logits=logits)

    g = torch.Generator().manual_seed(0)
    rows = [
        {"id": f"row-{i}", "x": torch.randn(4, generator=g), "labels": torch.tensor(i % 3)}
        for i in range(20)
    ]
    torch.manual_seed(0)
    return Tiny(), rows


def _final_gold(model: Any, rows: list[dict[str, Any]]) -> list[float]:
    model.eval()
    with torch.no_grad():
        probs = torch.softmax(model(torch.stack([r["x"] for r in rows])).logits, -1)
    return [float(probs[i, i % 3]) for i in range(len(rows))]


def test_callback_handler_loop_records_every_example_each_epoch(tmp_path: Path) -> None:
    from transformers.trainer_callback import CallbackHandler, TrainerControl, TrainerState

    from trialbook.cartography import TrialbookDynamicsCallback

    model, rows = _tiny_task()
    recorder = DynamicsRecorder(path=tmp_path / "carto")
    callback = TrialbookDynamicsCallback(recorder, rows, batch_size=8)
    assert isinstance(callback, transformers.TrainerCallback)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    handler = CallbackHandler([callback], model, None, optimizer, None)
    state, control = TrainerState(), TrainerControl()
    x = torch.stack([r["x"] for r in rows])
    y = torch.stack([r["labels"] for r in rows])
    for _ in range(3):  # the Trainer's loop: train an epoch, then on_epoch_end(model=...)
        model.train()
        optimizer.zero_grad()
        model(x, labels=y).loss.backward()
        optimizer.step()
        handler.on_epoch_end(None, state, control)
        assert model.training  # the callback restores the training mode
    handler.on_train_end(None, state, control)

    lines = [json.loads(line) for line in (tmp_path / "carto" / "training_dynamics.jsonl").open()]
    assert [r["id"] for r in lines] == [f"row-{i}" for i in range(20)]
    assert all(len(r["gold_prob"]) == 3 and len(r["correct"]) == 3 for r in lines)
    # The last recorded probability is the final model's softmax of the gold label, no dropout.
    final = _final_gold(model, rows)
    assert [r["gold_prob"][-1] for r in lines] == pytest.approx(final, abs=1e-6)
    assert len(cartography_metrics(recorder)) == 20


def test_callback_without_model_is_one_sentence() -> None:
    from trialbook.cartography import TrialbookDynamicsCallback

    callback = TrialbookDynamicsCallback(DynamicsRecorder(), [])
    with pytest.raises(ConfigError, match="gave TrialbookDynamicsCallback no model"):
        callback.on_epoch_end(None, None, None)


def test_real_trainer(tmp_path: Path) -> None:
    pytest.importorskip("accelerate")  # transformers' Trainer needs it; not a dev dependency
    from trialbook.cartography import TrialbookDynamicsCallback

    model, rows = _tiny_task()
    recorder = DynamicsRecorder(path=tmp_path)
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=2,
        per_device_train_batch_size=8,
        report_to=[],
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
    )
    train_rows = [{k: v for k, v in r.items() if k != "id"} for r in rows]
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=train_rows,
        callbacks=[TrialbookDynamicsCallback(recorder, rows)],
    )
    trainer.train()
    metrics = cartography_metrics(tmp_path)
    assert len(metrics) == 20 and recorder.epochs == [0, 1]
    assert [r["gold_prob"][-1] for r in recorder.rows()] == pytest.approx(
        _final_gold(trainer.model, rows), abs=1e-6
    )
