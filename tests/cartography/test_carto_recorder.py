"""DynamicsRecorder: batches from a plain loop, the reports' file format, runs and failures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import trialbook
from trialbook.cartography import DYNAMICS_FILE, DynamicsRecorder
from trialbook.errors import ConfigError
from trialbook.reporting import DYNAMICS_FILE as REPORT_FILE
from trialbook.reporting import find_training_dynamics, render_report


@pytest.fixture(autouse=True)
def _outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_records_lists_arrays_and_tensors_in_the_reports_format(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    rec = DynamicsRecorder(path=tmp_path / "out")
    rec.record(0, [1, 2], [0.25, 0.75])
    rec.record(0, np.array([3]), np.array([0.5]), correct=np.array([True]))
    rec.record(1, torch.tensor([3, 1, 2]), torch.tensor([0.5, 0.5, 1.0]), torch.tensor([0, 1, 1]))
    path = rec.save()
    assert path == tmp_path / "out" / DYNAMICS_FILE and DYNAMICS_FILE == REPORT_FILE
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [
        {"id": "1", "gold_prob": [0.25, 0.5], "correct": [False, True]},
        {"id": "2", "gold_prob": [0.75, 1.0], "correct": [True, True]},
        {"id": "3", "gold_prob": [0.5, 0.5], "correct": [True, False]},
    ]
    loaded = DynamicsRecorder.load(path)
    assert loaded.rows() == rows and loaded.epochs == [0, 1]


def test_save_into_run_folder_logs_artifact_and_report_draws_map(tmp_path: Path) -> None:
    with trialbook.start_run(
        experiment="carto", root=tmp_path, system_metrics=False, capture_packages=False
    ) as run:
        rec = DynamicsRecorder(run=run)
        for epoch in range(3):
            rec.record(epoch, ["a", "b", "c"], [0.2 + 0.1 * epoch, 0.9, 0.1])
        path = rec.save()
        assert path == run.path / DYNAMICS_FILE
        run_id = run.id
    store = trialbook.open_store(tmp_path)
    record = store.get_run(run_id)
    assert find_training_dynamics(record, store) == path
    assert [a.kind for a in store.artifacts(run_id)] == ["training_dynamics"]
    assert 'id="data-map"' in render_report([run_id], store)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, ["a", "b"], [0.5]), "record\\(\\) got 2 ids but 1 gold_probs"),
        ((0, ["a"], [1.5]), "gold_prob 1.5 for example 'a' is not a probability"),
        ((0, "ab", [0.5, 0.5]), "ids must be a sequence"),
        ((0, ["a"], [0.5], [True, False]), "and 2 correct flags"),
    ],
)
def test_bad_batches_are_one_sentence(args: tuple[object, ...], message: str) -> None:
    rec = DynamicsRecorder()
    with pytest.raises(ConfigError, match=message):
        rec.record(*args)  # type: ignore[arg-type]
    assert rec.ids == []  # nothing half-recorded


def test_repeated_and_missing_epochs_are_errors(tmp_path: Path) -> None:
    rec = DynamicsRecorder()
    rec.record(0, ["a", "b"], [0.5, 0.5])
    with pytest.raises(ConfigError, match=r"'a' was already recorded for epoch 0"):
        rec.record(0, ["a"], [0.4])
    with pytest.raises(ConfigError, match=r"'c' was already recorded for epoch 1"):
        rec.record(1, ["a", "c", "c"], [0.6, 0.1, 0.2])
    assert rec.ids == ["a", "b"]  # the bad batch recorded nothing
    rec.record(1, ["a"], [0.6])
    with pytest.raises(ConfigError, match=r"Example 'b' has no record for epoch 1"):
        rec.save(tmp_path)
    assert not (tmp_path / DYNAMICS_FILE).exists()  # nothing written half-way


def test_save_needs_a_place_and_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothing to save"):
        DynamicsRecorder(path=tmp_path).save()
    rec = DynamicsRecorder()
    rec.record(0, ["a"], [0.5])
    with pytest.raises(ConfigError, match=r"needs a place to write"):
        rec.save()
    assert rec.save(tmp_path / "d.jsonl") == tmp_path / "d.jsonl"


def test_load_missing_names_the_recorder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Training dynamics not found at .*DynamicsRecorder"):
        DynamicsRecorder.load(tmp_path)


def test_load_rejects_mismatched_correct_flags(tmp_path: Path) -> None:
    path = tmp_path / DYNAMICS_FILE
    path.write_text(json.dumps({"id": "a", "gold_prob": [0.2, 0.4], "correct": [True]}) + "\n")
    with pytest.raises(ConfigError, match=r"Line 1 of .* has 2 gold_prob values but 1 correct"):
        DynamicsRecorder.load(path)
