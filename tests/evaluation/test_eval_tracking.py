"""Evaluation results stored by a run (live) and added to a finished run afterwards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import trialbook
from trialbook.errors import RunNotFoundError
from trialbook.evaluation import GSM8K, evaluate
from trialbook.tracking import add_evaluation

COMMON = {"system_metrics": False, "capture_packages": False}


def _gold_or_nothing(prompts: list[str]) -> list[str]:
    gold = {GSM8K().format_prompt(s): s["solution"] for s in GSM8K().load_dataset(num_samples=4)}
    # Every other example gets an output with no number: its prediction is None.
    return [gold[p] if i % 2 == 0 else "I do not know." for i, p in enumerate(prompts)]


@pytest.fixture(scope="module")
def result() -> trialbook.EvaluationResult:
    return evaluate(_gold_or_nothing, "gsm8k", num_samples=4, progress=False)


def test_log_evaluation_stores_summary_samples_and_jsonl(
    result: trialbook.EvaluationResult, tmp_path: Path
) -> None:
    with trialbook.start_run("ev", {"lr": 1}, root=tmp_path, **COMMON) as run:
        run.log_evaluation("gsm8k", result)
    db = trialbook.open_store(tmp_path)
    try:
        (ev,) = db.evaluations(run.id)
        assert ev.benchmark == "gsm8k" and ev.split == "test" and ev.n == 4
        assert ev.metrics["accuracy"] == 0.5
        assert ev.metrics["partial_accuracy"] == 0.5
        samples = db.evaluation_samples(run.id, "gsm8k")
    finally:
        db.close()
    assert [s.sample_id for s in samples] == ["0", "1", "2", "3"]
    assert [s.correct for s in samples] == [True, False, True, False]
    assert samples[0].prediction == "18" and samples[0].reference == "18"
    assert samples[1].prediction is None  # nothing extracted stays None
    assert samples[1].extra["output"] == "I do not know."  # the raw output is kept
    assert samples[0].extra["output"].endswith("#### 18")
    assert samples[0].extra["input"].endswith("A:")
    lines = [
        json.loads(x) for x in (run.path / "evaluations" / "gsm8k.jsonl").read_text().splitlines()
    ]
    assert [x["id"] for x in lines] == ["0", "1", "2", "3"]
    assert lines[1]["output"] == "I do not know." and lines[1]["prediction"] is None
    assert lines[0]["latency"] is not None and lines[0]["format_ok"] is True
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["evaluations"]["gsm8k"]["metrics"]["accuracy"] == 0.5


def test_add_evaluation_to_a_finished_run(
    result: trialbook.EvaluationResult, tmp_path: Path
) -> None:
    with trialbook.start_run("ev", {}, name="done", root=tmp_path, **COMMON) as run:
        run.log({"loss": 0.5}, step=1)
    before = json.loads((run.path / "summary.json").read_text())
    add_evaluation("done", "gsm8k", result, root=tmp_path)
    db = trialbook.open_store(tmp_path)
    try:
        record = db.get_run(run.id)
        assert record.status == "completed"
        assert db.evaluations(run.id)[0].metrics["accuracy"] == 0.5
        assert len(db.evaluation_samples(run.id, "gsm8k")) == 4
    finally:
        db.close()
    after = json.loads((run.path / "summary.json").read_text())
    assert after["evaluations"]["gsm8k"]["n"] == 4
    assert {k: v for k, v in after.items() if k != "evaluations"} == {
        k: v for k, v in before.items() if k != "evaluations"
    }
    assert (run.path / "evaluations" / "gsm8k.jsonl").is_file()


def test_add_evaluation_to_an_unknown_run(
    result: trialbook.EvaluationResult, tmp_path: Path
) -> None:
    with trialbook.start_run("ev", {}, root=tmp_path, **COMMON):
        pass
    with pytest.raises(RunNotFoundError):
        add_evaluation("no-such-run", "gsm8k", result, root=tmp_path)
