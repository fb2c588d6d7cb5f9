"""What a metric's name says about it (trialbook._metrics)."""

from __future__ import annotations

import pytest

from trialbook._metrics import is_accuracy


@pytest.mark.parametrize(
    "key",
    ["accuracy", "eval_accuracy", "metrics.val/accuracy", "eval.clinc150.in_scope_accuracy"],
)
def test_an_accuracy_is_recognised_by_the_last_part_of_its_name(key: str) -> None:
    assert is_accuracy(key)


@pytest.mark.parametrize(
    "key", ["accuracy_loss", "train/loss", "eval.gsm8k.format_compliance", "inaccuracy"]
)
def test_other_metrics_are_not_accuracies(key: str) -> None:
    assert not is_accuracy(key)
