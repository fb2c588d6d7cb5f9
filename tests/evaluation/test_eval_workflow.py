"""``evaluate_and_record``: the evaluate-and-record workflow that Python and ``trialbook
evaluate`` share (a new run or an existing one, checks before any work, what was kept when
recording fails)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

import trialbook
from trialbook.errors import ConfigError, RunNotFoundError, WorkspaceError
from trialbook.evaluation import (
    GSM8K,
    EvaluationNotRecorded,
    Model,
    PredictionsFile,
    evaluate_and_record,
)

COMMON = {"system_metrics": False, "capture_packages": False}


class _Counting(Model):
    """A model answering every other example correctly, counting its calls."""

    name = "counting"

    def __init__(self) -> None:
        self.calls = 0
        data = GSM8K().load_dataset(num_samples=4)
        self.gold = {GSM8K().format_prompt(s): s["solution"] for s in data}

    def generate(self, prompts: Sequence[str]) -> list[str]:
        self.calls += 1
        return [self.gold[p] if i % 2 == 0 else "no idea" for i, p in enumerate(prompts)]


def test_a_new_run_gets_the_evaluation_its_config_and_a_name(tmp_path: Path) -> None:
    recorded = evaluate_and_record(
        "gsm8k", _Counting(), num_samples=4, root=tmp_path, progress=False, shots=0
    )

    assert recorded.result.metrics["accuracy"] == 0.5
    with trialbook.open_store(tmp_path) as db:
        run = db.get_run(recorded.run_id)
        (ev,) = db.evaluations(run.id)
        assert len(db.samples(ev.id)) == 4
    assert (run.experiment, run.name, run.status) == ("evaluate", "gsm8k-counting", "completed")
    assert run.config["benchmark"] == "gsm8k" and run.config["num_samples"] == 4
    assert run.config["model"] == "counting" and run.config["predictions"] is None
    assert ev.metrics["accuracy"] == 0.5
    assert run.folder is not None
    lines = (Path(run.folder) / "evaluations" / "gsm8k.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["0", "1", "2", "3"]
    doc = recorded.to_dict()
    assert doc["run_id"] == run.id and doc["n"] == 4 and doc["metrics"]["accuracy"] == 0.5


def test_an_existing_run_gets_the_evaluation_whatever_its_status(tmp_path: Path) -> None:
    with trialbook.start_run("train", {"lr": 1}, name="base", root=tmp_path, **COMMON) as run:
        pass

    recorded = evaluate_and_record(
        "gsm8k", _Counting(), num_samples=4, run="base", root=tmp_path, progress=False
    )

    assert recorded.run_id == run.id
    with trialbook.open_store(tmp_path) as db:
        assert [e.benchmark for e in db.evaluations(run.id)] == ["gsm8k"]
        assert [r.id for r in db.list_runs()] == [run.id]  # no new run


def test_saved_predictions_name_the_run_after_the_file(tmp_path: Path) -> None:
    preds = tmp_path / "preds.jsonl"
    rows = [{"index": i, "prediction": "#### 0"} for i in range(3)]
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))

    recorded = evaluate_and_record(
        "gsm8k", PredictionsFile(preds), num_samples=3, root=tmp_path / "ws", progress=False
    )

    with trialbook.open_store(tmp_path / "ws") as db:
        run = db.get_run(recorded.run_id)
    assert run.name == "gsm8k-preds"
    assert run.config["predictions"] == str(preds) and run.config["model"] is None


def test_run_and_experiment_together_are_refused_naming_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not both") as caught:
        evaluate_and_record("gsm8k", _Counting(), run="a", experiment="b", root=tmp_path)
    assert caught.value.parameter == "experiment"
    assert "--" not in str(caught.value)


def test_an_unknown_run_is_refused_before_the_model_runs(tmp_path: Path) -> None:
    with trialbook.start_run("train", {}, root=tmp_path, **COMMON):
        pass
    model = _Counting()

    with pytest.raises(RunNotFoundError, match=r"'nope'"):
        evaluate_and_record("gsm8k", model, num_samples=4, run="nope", root=tmp_path)
    assert model.calls == 0


def test_an_unwritable_workspace_is_refused_before_the_model_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    model = _Counting()

    with pytest.raises(WorkspaceError, match=r"blocker is not a folder") as caught:
        evaluate_and_record("gsm8k", model, num_samples=4, root=blocker / "ws")
    assert caught.value.parameter == "root"
    assert "--root" not in str(caught.value)
    assert model.calls == 0 and blocker.read_text() == "not a folder"


def test_a_failed_folder_write_says_the_rows_were_kept(tmp_path: Path) -> None:
    with trialbook.start_run("train", {}, name="base", root=tmp_path, **COMMON) as run:
        pass
    # A file where the run folder's evaluations/ should be: the per-sample file cannot be
    # written after the Store's rows are.
    (run.folder.path / "evaluations").write_text("in the way")

    with pytest.raises(EvaluationNotRecorded) as caught:
        evaluate_and_record(
            "gsm8k", _Counting(), num_samples=4, run="base", root=tmp_path, progress=False
        )

    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.kept.startswith(
        f"The gsm8k evaluation is in the database under run {run.id}"
    )
    with trialbook.open_store(tmp_path) as db:
        assert len(db.evaluations(run.id)) == 1
