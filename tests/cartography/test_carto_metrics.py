"""Cartography metrics equal a direct NumPy computation; the regions catch flipped labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from carto_synthetic import train_noisy_logreg

from trialbook.cartography import REGIONS, assign_regions, cartography_metrics, load_metrics
from trialbook.errors import ConfigError
from trialbook.reporting import load_training_dynamics


def test_metrics_equal_direct_numpy(tmp_path: Path) -> None:
    task = train_noisy_logreg(seed=3, n=300, epochs=5)
    metrics = cartography_metrics(task.recorder)
    probs = task.probs
    assert list(metrics["id"]) == [f"ex-{i}" for i in range(300)]
    np.testing.assert_allclose(metrics["confidence"], probs.mean(axis=1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        metrics["variability"], np.sqrt(((probs - probs.mean(1, keepdims=True)) ** 2).mean(1))
    )
    np.testing.assert_allclose(metrics["correctness"], (probs > 0.5).mean(axis=1))
    # The saved file gives the same numbers, and the reports' reader agrees with them.
    path = task.recorder.save(tmp_path)
    again = cartography_metrics(path)
    np.testing.assert_allclose(again["confidence"], probs.mean(axis=1))
    dyn = load_training_dynamics(path)
    np.testing.assert_allclose(dyn.variability, metrics["variability"])
    np.testing.assert_allclose(dyn.correctness, metrics["correctness"])


def test_explicit_correct_flags_drive_correctness() -> None:
    from trialbook.cartography import DynamicsRecorder

    rec = DynamicsRecorder()
    rec.record(0, ["a", "b"], [0.3, 0.9], correct=[True, False])
    rec.record(1, ["a", "b"], [0.5, 0.7], correct=[True, True])
    m = cartography_metrics(rec)
    assert list(m["correctness"]) == [1.0, 0.5]
    assert m["variability"].tolist() == pytest.approx([0.1, 0.1])


def test_hard_region_catches_flipped_labels() -> None:
    # Must hold (issue 6): with 10% of labels flipped, hard-to-learn catches most of them.
    task = train_noisy_logreg(seed=0)
    region = assign_regions(cartography_metrics(task.recorder)).to_numpy()
    hard = region == "hard-to-learn"
    precision = (hard & task.flipped).sum() / hard.sum()
    recall = (hard & task.flipped).sum() / task.flipped.sum()
    assert recall > 0.85 and precision > 0.6
    assert set(region) <= set(REGIONS)


def test_regions_by_threshold_and_by_quantile() -> None:
    import pandas as pd

    m = pd.DataFrame(
        {
            "id": list("abcd"),
            "confidence": [0.9, 0.2, 0.5, 0.6],
            "variability": [0.05, 0.05, 0.3, 0.1],
            "correctness": [1.0, 0.0, 0.5, 0.7],
        }
    )
    assert list(assign_regions(m)) == [
        "easy-to-learn",
        "hard-to-learn",
        "ambiguous",
        "easy-to-learn",
    ]
    by_quantile = assign_regions(m, ambiguous_fraction=0.5)
    assert list(by_quantile) == ["easy-to-learn", "hard-to-learn", "ambiguous", "ambiguous"]
    with pytest.raises(ConfigError, match=r"ambiguous_fraction 1.5 is not in"):
        assign_regions(m, ambiguous_fraction=1.5)
    with pytest.raises(ConfigError, match=r"no 'variability' column"):
        assign_regions(m.drop(columns="variability"))


def test_load_metrics_missing_names_the_recording_call(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_metrics(tmp_path / "cartography_output")
    msg = str(e.value)
    assert msg.startswith(f"Cartography metrics not found in {tmp_path / 'cartography_output'}")
    assert "record training dynamics first" in msg and "DynamicsRecorder(path=" in msg


def test_bad_dynamics_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "training_dynamics.jsonl"
    path.write_text(json.dumps({"id": "a", "gold_prob": [0.2]}) + "\n{oops\n")
    with pytest.raises(ConfigError, match=r"Line 2 of"):
        cartography_metrics(tmp_path)
