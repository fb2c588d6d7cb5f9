"""The Tracker API as a training script uses it: start_run, Run.log, finish, run folders."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import trialbook
from trialbook.config import config_hash, group_key
from trialbook.errors import ConfigError, MetricValueError, RunStateError, WorkspaceError

FAST = {"system_metrics": False, "capture_packages": False}

#: Each test twice: into the workspace's SQLite file and into a PostgreSQL database.
pytestmark = pytest.mark.usefixtures("index_store")


@pytest.fixture(autouse=True)
def _outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Provenance depends on the working directory: run outside this repository.
    monkeypatch.chdir(tmp_path)


def _store(root: Path) -> Any:
    return trialbook.open_store(root)


def test_context_manager_completes_and_writes_folder(tmp_path: Path) -> None:
    config = {"model": {"hidden": 32}, "training": {"learning_rate": 1e-3}}
    with trialbook.start_run(
        experiment="baseline",
        config=config,
        seed=42,
        root=tmp_path,
        notes="first",
        tags=["a"],
        **FAST,
    ) as run:
        for step in range(10):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 10}, step=step)
    assert run.status == "completed"

    rec = _store(tmp_path).get_run(run.id)
    assert rec.status == "completed"
    assert rec.experiment == "baseline"
    assert rec.seed == 42 and rec.notes == "first" and rec.tags == ("a",)
    assert rec.duration is not None and rec.duration >= 0
    assert rec.ended_at is not None and rec.started_at is not None

    folder = Path(rec.folder or "")
    assert folder.name == f"baseline_{rec.short_id}"
    assert folder.parent == tmp_path
    assert sorted(p.name for p in folder.iterdir()) == [
        "artifacts",
        "checkpoint",
        "config.yaml",
        "meta.json",
        "summary.json",
    ]
    saved = yaml.safe_load((folder / "config.yaml").read_text())
    assert saved == {**config, "seed": 42}
    # The experiment's name counts as part of the config (runs of two experiments never share
    # a hash or a seed group), as if config.yaml had an experiment: block naming it.
    named = {**saved, "experiment": {"name": "baseline"}}
    assert rec.config_hash == config_hash(named)
    assert (
        rec.group_key
        == group_key(named)
        == group_key({**config, "experiment": {"name": "baseline"}})
    )

    meta = json.loads((folder / "meta.json").read_text())
    assert meta["run_id"] == run.id and meta["seed"] == 42
    assert meta["environment"]["python"]["version"].startswith(f"{sys.version_info[0]}.")
    assert meta["command"] == list(sys.argv)
    assert "start_time" in meta and meta["device"] in ("cpu", "cuda")

    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["metrics"]["loss"] == pytest.approx(0.1)
    assert summary["best"]["loss"] == {"value": pytest.approx(0.1), "step": 9, "goal": "min"}
    assert summary["best"]["acc"] == {"value": pytest.approx(0.9), "step": 9, "goal": "max"}
    assert summary["runtime_seconds"] >= 0 and "end_time" in summary


def test_params_are_the_flattened_config(tmp_path: Path) -> None:
    with trialbook.start_run(
        experiment="e", config={"a": {"b": 1, "c": [1, 2]}, "d": "x"}, root=tmp_path, **FAST
    ) as run:
        run.log_params({"extra.flag": True})
    assert _store(tmp_path).params(run.id) == {
        "a.b": 1,
        "a.c": [1, 2],
        "d": "x",
        "extra.flag": True,
    }


def test_exception_marks_failed_with_traceback(tmp_path: Path) -> None:
    with (
        pytest.raises(ZeroDivisionError),
        trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run,
    ):
        run.log({"loss": 1.0}, step=0)
        1 / 0  # noqa: B018
    rec = _store(tmp_path).get_run(run.id)
    assert rec.status == "failed"
    assert rec.error is not None and "ZeroDivisionError" in rec.error
    assert "Traceback" in rec.error
    summary = json.loads((Path(rec.folder or "") / "summary.json").read_text())
    assert summary["status"] == "failed" and "ZeroDivisionError" in summary["error"]
    # Points logged before the failure are kept.
    assert _store(tmp_path).metric_history(run.id, "loss").values == (1.0,)


def test_keyboard_interrupt_marks_killed(tmp_path: Path) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run,
    ):
        raise KeyboardInterrupt
    assert _store(tmp_path).get_run(run.id).status == "killed"


def test_values_nan_inf_numpy_and_ints_are_stored_faithfully(tmp_path: Path) -> None:
    with trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run:
        run.log({"nan": math.nan, "inf": math.inf, "ninf": -math.inf}, step=0)
        run.log({"f32": np.float32(0.5), "i64": np.int64(7), "arr": np.array(2.5)}, step=1)
        run.log({"int": 3, "bool": True, "big": 10**30}, step=2)
    store = _store(tmp_path)
    h = store.metric_history(run.id, "nan")
    assert len(h) == 1 and math.isnan(h.values[0])
    assert store.metric_history(run.id, "inf").values == (math.inf,)
    assert store.metric_history(run.id, "ninf").values == (-math.inf,)
    assert store.metric_history(run.id, "f32").values == (0.5,)
    assert store.metric_history(run.id, "i64").values == (7.0,)
    assert store.metric_history(run.id, "arr").values == (2.5,)
    assert store.metric_history(run.id, "int").values == (3.0,)
    assert store.metric_history(run.id, "bool").values == (1.0,)
    assert store.metric_history(run.id, "big").values == (1e30,)
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["metrics"]["nan"] == "NaN" and summary["metrics"]["inf"] == "Infinity"


def test_torch_scalars_are_accepted(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch") if not _ci() else __import__("torch")
    with trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run:
        run.log({"t": torch.tensor(1.5), "ti": torch.tensor(4), "one": torch.ones(1)}, step=0)
        with pytest.raises(MetricValueError, match="'vec'"):
            run.log({"vec": torch.ones(3)}, step=1)
    store = _store(tmp_path)
    assert store.metric_history(run.id, "t").values == (1.5,)
    assert store.metric_history(run.id, "ti").values == (4.0,)
    assert store.metric_history(run.id, "one").values == (1.0,)


def _ci() -> bool:
    import os

    return os.environ.get("CI") == "true"


@pytest.mark.parametrize(
    "bad", ["0.5", None, [1.0], {"a": 1}, np.ones(2), object()], ids=lambda v: type(v).__name__
)
def test_non_numeric_value_raises_at_the_call_naming_the_key(tmp_path: Path, bad: Any) -> None:
    with trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run:
        run.log({"ok": 1.0}, step=0)
        with pytest.raises(MetricValueError) as info:
            run.log({"ok": 2.0, "val_loss": bad}, step=1)
        assert "'val_loss'" in str(info.value)
        assert "\n" not in str(info.value)
    # The rejected call stored nothing, the good one is there.
    assert _store(tmp_path).metric_history(run.id, "ok").values == (1.0,)


def test_non_string_key_and_bad_step_raise(tmp_path: Path) -> None:
    with trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run:
        with pytest.raises(MetricValueError, match="names must be strings"):
            run.log({1: 1.0})  # type: ignore[dict-item]
        with pytest.raises(MetricValueError, match="step must be an integer"):
            run.log({"a": 1.0}, step=1.5)  # type: ignore[arg-type]
        run.log({"a": 1.0}, step=np.int64(3))  # type: ignore[arg-type]
    assert _store(tmp_path).metric_history(run.id, "a").steps == (3,)


def test_step_defaults_to_the_next_one(tmp_path: Path) -> None:
    with trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run:
        run.log({"a": 1.0})
        run.log({"a": 2.0})
        run.log({"a": 3.0}, step=10)
        run.log({"a": 4.0})
    assert _store(tmp_path).metric_history(run.id, "a").steps == (0, 1, 10, 11)


def test_logging_after_finish_raises(tmp_path: Path) -> None:
    run = trialbook.start_run(experiment="e", root=tmp_path, **FAST)
    run.finish()
    run.finish()  # idempotent
    with pytest.raises(RunStateError, match="has finished"):
        run.log({"a": 1.0})


def test_many_points_are_all_flushed(tmp_path: Path) -> None:
    n = 120_000  # more than one writer batch
    with trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run:
        for i in range(n):
            run.log({"x": float(i)}, step=i)
    store = _store(tmp_path)
    h = store.metric_history(run.id, "x")
    assert len(h) == n and h.steps[-1] == n - 1 and h.values[12345] == 12345.0
    s = store.metric_summaries([run.id])[run.id]["x"]
    assert (s.count, s.min, s.max, s.last, s.last_step) == (n, 0.0, n - 1.0, n - 1.0, n - 1)


def test_seed_from_config_and_conflicts(tmp_path: Path) -> None:
    with trialbook.start_run(experiment="e", config={"seed": 7}, root=tmp_path, **FAST) as run:
        pass
    assert run.seed == 7
    with pytest.raises(ConfigError, match="disagrees"):
        trialbook.start_run(experiment="e", config={"seed": 7}, seed=8, root=tmp_path, **FAST)
    with pytest.raises(ConfigError, match="seed must be an integer"):
        trialbook.start_run(experiment="e", seed="1", root=tmp_path, **FAST)  # type: ignore[arg-type]


def test_seed_groups_share_group_key(tmp_path: Path) -> None:
    cfg = {"lr": 0.1}
    ids = []
    for seed in (1, 2):
        with trialbook.start_run(experiment="e", config=cfg, seed=seed, root=tmp_path, **FAST) as r:
            ids.append(r.id)
    cfg2 = {"lr": 0.2}
    with trialbook.start_run(experiment="e", config=cfg2, seed=1, root=tmp_path, **FAST) as r:
        other = r.id
    store = _store(tmp_path)
    a, b, c = (store.get_run(i) for i in (*ids, other))
    assert a.group_key == b.group_key != c.group_key
    assert a.config_hash != b.config_hash


def test_dataclass_and_pydantic_style_configs(tmp_path: Path) -> None:
    @dataclass
    class Training:
        learning_rate: float = 5e-5
        path: Path = Path("data/train.jsonl")

    @dataclass
    class Config:
        name: str = "x"
        training: Training = field(default_factory=Training)

    with trialbook.start_run(experiment="e", config=Config(), root=tmp_path, **FAST) as run:
        pass
    assert dict(run.config) == {
        "name": "x",
        "training": {"learning_rate": 5e-5, "path": "data/train.jsonl"},
    }


def test_unserialisable_config_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    with pytest.raises(ConfigError, match=r"'model\.fn'"):
        trialbook.start_run(experiment="e", config={"model": {"fn": object()}}, root=root, **FAST)
    assert not root.exists()


def test_unwritable_workspace_is_a_workspace_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(WorkspaceError, match="Cannot write to the workspace"):
        trialbook.start_run(experiment="e", root=blocker / "ws", **FAST)


def test_checkpoint_artifact_and_dataset_lineage(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text('{"x": 1}\n{"x": 2}\n{"x": 3}\n')
    small = tmp_path / "small.jsonl"
    small.write_text('{"x": 1}\n')
    outside = tmp_path / "plot.txt"
    outside.write_text("plot")
    with trialbook.start_run(experiment="e", root=tmp_path / "ws", **FAST) as run:
        ckpt = run.checkpoint_dir / "model.bin"
        ckpt.write_bytes(b"\0" * 100)
        c = run.log_checkpoint(ckpt, step=5, metrics={"val_loss": 0.25})
        a = run.log_artifact(outside, kind="plot")
        d1 = run.log_dataset(data, "train")
        d2 = run.log_dataset(small, "train_small", parent="train", transform="head -1")
        with pytest.raises(ConfigError, match="does not exist"):
            run.log_checkpoint(tmp_path / "missing.pt")
    assert c.size == 100 and c.step == 5 and c.metrics == {"val_loss": 0.25}
    assert len(c.sha256 or "") == 64
    assert Path(a.path) == run.artifacts_dir / "plot.txt" and Path(a.path).read_text() == "plot"
    assert d1.rows == 3 and d2.parent == "train" and d2.transform == "head -1"
    store = _store(tmp_path / "ws")
    assert [x.path for x in store.checkpoints(run.id)] == [str(ckpt.absolute())]
    assert [x.name for x in store.datasets(run.id)] == ["train", "train_small"]
    meta = json.loads((run.path / "meta.json").read_text())
    import hashlib

    assert meta["data"][0]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()


def test_log_evaluation_stores_summary_samples_and_jsonl(tmp_path: Path) -> None:
    result = {
        "metrics": {"accuracy": 0.5, "format_compliance": 1.0},
        "split": "test",
        "timing": {"total": 2.0},
        "samples": [
            {"id": "q1", "prediction": "3", "reference": "3", "correct": True, "category": "a"},
            {"id": "q2", "prediction": "4", "reference": "5", "correct": False, "category": "b"},
        ],
    }
    with trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run:
        ev = run.log_evaluation("gsm8k", result)
    assert ev.n == 2 and ev.split == "test" and ev.duration == 2.0
    store = _store(tmp_path)
    samples = store.evaluation_samples(run.id, "gsm8k")
    assert [(s.sample_id, s.correct, s.score, s.extra) for s in samples] == [
        ("q1", True, 1.0, {"category": "a"}),
        ("q2", False, 0.0, {"category": "b"}),
    ]
    lines = (run.path / "evaluations" / "gsm8k.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["q1", "q2"]
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["evaluations"]["gsm8k"]["metrics"]["accuracy"] == 0.5
    with (
        trialbook.start_run(experiment="e", root=tmp_path, **FAST) as run2,
        pytest.raises(ConfigError, match="no metrics"),
    ):
        run2.log_evaluation("gsm8k", {"samples": []})


def test_experiment_tracker_seed_002_api(tmp_path: Path) -> None:
    tracker = trialbook.ExperimentTracker(backends=["local"], root=tmp_path)
    exp_id = tracker.start_experiment(
        {"learning_rate": 5e-5, "lora_rank": 8}, notes="Baseline run", experiment="baseline_test"
    )
    for step in range(5):
        tracker.log_metrics({"loss": 1.0 - step / 10, "reward": step}, step)
    tracker.log_evaluation("gsm8k", {"metrics": {"accuracy": 0.731}})
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"weights")
    tracker.log_checkpoint(ckpt, step=4, metrics={"loss": 0.6})
    tracker.finish_experiment(status="completed")
    rec = _store(tmp_path).get_run(exp_id)
    assert rec.status == "completed" and rec.notes == "Baseline run"
    assert rec.experiment == "baseline_test"
    assert _store(tmp_path).metric_history(exp_id, "reward").values == (0, 1, 2, 3, 4)
    with pytest.raises(RunStateError, match="start_experiment"):
        tracker.log_metrics({"loss": 1.0}, 0)
    with pytest.raises(ConfigError, match=r"Unknown tracker backend 'nope'"):
        trialbook.ExperimentTracker(backends=["nope"])


def test_seed_everything_is_exported() -> None:
    import random

    trialbook.seed_everything(3)
    a = random.random()
    trialbook.seed_everything(3)
    assert random.random() == a


def test_script_exiting_without_finish_is_completed(tmp_path: Path) -> None:
    code = (
        "import trialbook\n"
        f"run = trialbook.start_run(experiment='s', root={str(tmp_path)!r}, system_metrics=False)\n"
        "run.log({'a': 1.0}, step=0)\n"
        "print(run.id)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rec = _store(tmp_path).get_run(out.stdout.strip())
    assert rec.status == "completed"
    assert _store(tmp_path).metric_history(rec.id, "a").values == (1.0,)


def test_system_metrics_are_sampled_when_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with trialbook.start_run(experiment="e", root=tmp_path, system_metrics=True) as run:
        run.log({"a": 1.0})
    keys = _store(tmp_path).metric_summaries([run.id])[run.id]
    assert "system/rss_mb" in keys and keys["system/rss_mb"].last > 0
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    with trialbook.start_run(experiment="e", root=tmp_path) as run2:
        run2.log({"a": 1.0})
    assert set(_store(tmp_path).metric_summaries([run2.id])[run2.id]) == {"a"}


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_git_provenance_and_diff_patch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    (repo / "train.py").write_text("print(1)\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "init")
    monkeypatch.chdir(repo)

    # Clean tree: the workspace inside the repo (./experiments) does not make it dirty.
    for _ in range(2):
        with trialbook.start_run(experiment="g", **FAST) as run:
            pass
        rec = _store(repo / "experiments").get_run(run.id)
        assert rec.git_commit == _git(repo, "rev-parse", "HEAD")
        assert rec.git_branch == "main" and rec.git_dirty is False
        assert not (run.path / "diff.patch").exists()

    (repo / "train.py").write_text("print(2)\n")
    with trialbook.start_run(experiment="g", **FAST) as run:
        pass
    assert _store(repo / "experiments").get_run(run.id).git_dirty is True
    patch = (run.path / "diff.patch").read_text()
    assert "+print(2)" in patch and "experiments" not in patch
