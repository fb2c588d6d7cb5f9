"""A user's mistake through the Python API is one clear error naming the value, and nothing is
half-made: no run folder, no run row, no state changed in memory."""

from __future__ import annotations

import copy
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml

import trialbook
from trialbook.errors import ConfigError, MetricValueError, RunStateError
from trialbook.tracking._settings import tracking_settings

FAST: dict[str, Any] = {"system_metrics": False, "capture_packages": False}


@pytest.fixture(autouse=True)
def _outside_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRIALBOOK_FLUSH_INTERVAL", raising=False)


def _runs(root: Path) -> list[Any]:
    if not (root / "trialbook.db").exists():
        return []
    return trialbook.open_store(root).list_runs()


def _folders(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def _refused(root: Path, match: str, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError, match=match) as info:
        trialbook.start_run("exp", root=root, **FAST, **kwargs)
    assert _runs(root) == [] and _folders(root) == []
    assert "\n" not in str(info.value)
    return info.value


def _deep(levels: int) -> dict[str, Any]:
    top: dict[str, Any] = {}
    node = top
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return top


# ------------------------------------------------------------------ start_run arguments
def test_a_config_with_a_non_string_key_is_refused_naming_the_key(tmp_path: Path) -> None:
    _refused(tmp_path, r"Config key 1 \(type int, at the top level\)", config={1: "a"})
    _refused(
        tmp_path,
        r"Config key None \(type NoneType, at model.layers.0\)",
        config={"model": {"layers": [{None: 3}]}},
    )


def test_a_config_thousands_of_levels_deep_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, "nests deeper than 100 levels", config=_deep(2000))
    looped: dict[str, Any] = {}
    looped["self"] = looped
    _refused(tmp_path, "nests deeper than 100 levels", config=looped)


def test_a_config_100_levels_deep_is_kept(tmp_path: Path) -> None:
    with trialbook.start_run("exp", _deep(99), root=tmp_path, **FAST) as run:
        pass
    assert trialbook.open_store(tmp_path).get_run(run.id).config == _deep(99)


@pytest.mark.parametrize(
    ("tags", "match"),
    [
        ("abc", r"tags='abc' is a single string.*tags=\['abc'\]"),
        ([1, None], r"Tag 1 \(int\) is not a non-empty string"),
        (["ok", None], r"Tag None \(NoneType\)"),
        ([""], r"Tag '' \(str\)"),
        (42, r"tags=42 is not a list of strings"),
        ({"team": ["a"]}, r"Tag 'team' has the value \['a'\] \(list\)"),
        ({"": "x"}, r"Tag key '' must be a non-empty string"),
        ({1: "x"}, r"Tag key 1 must be a non-empty string"),
    ],
)
def test_bad_tags_are_refused_naming_the_tag(tmp_path: Path, tags: Any, match: str) -> None:
    _refused(tmp_path, match, tags=tags)


def test_tags_given_as_a_mapping_are_stored_as_key_value_tags(tmp_path: Path) -> None:
    tags = {"team": "nlp", "lr": 0.001, "final": True, "draft": None}
    with trialbook.start_run("exp", root=tmp_path, tags=tags, **FAST) as run:
        pass
    stored = trialbook.open_store(tmp_path).get_run(run.id).tags
    assert stored == ("team=nlp", "lr=0.001", "final=true", "draft")
    assert [r.id for r in trialbook.open_store(tmp_path).list_runs(tags=["team=nlp"])] == [run.id]


@pytest.mark.parametrize("value", [-1, 0, 0.001, float("nan"), float("inf"), "fast", True, 10**6])
def test_a_bad_flush_interval_is_refused_before_anything_is_made(
    tmp_path: Path, value: Any
) -> None:
    _refused(tmp_path, r"flush_interval=.* (is not a number|is out of range)", flush_interval=value)


@pytest.mark.parametrize("raw", ["abc", "-1", "0", "nan", "1e400"])
def test_a_bad_flush_interval_variable_is_refused_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("TRIALBOOK_FLUSH_INTERVAL", raw)
    error = _refused(tmp_path, f"TRIALBOOK_FLUSH_INTERVAL={raw!r}")
    assert "seconds" in str(error)
    # attach mode and the Runner's early check read the variable through the same function
    with pytest.raises(ConfigError, match="TRIALBOOK_FLUSH_INTERVAL"):
        tracking_settings()


def test_a_good_flush_interval_variable_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIALBOOK_FLUSH_INTERVAL", " 0.5 ")
    assert tracking_settings().flush_interval == 0.5
    assert tracking_settings(flush_interval=2).flush_interval == 2.0


@pytest.mark.parametrize("raw", ["maybe", "2", "enabled"])
def test_a_system_metrics_variable_that_is_neither_on_nor_off_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", raw)
    with pytest.raises(ConfigError, match=f"TRIALBOOK_SYSTEM_METRICS={raw!r}"):
        trialbook.start_run("exp", root=tmp_path, capture_packages=False)
    assert _runs(tmp_path) == [] and _folders(tmp_path) == []


@pytest.mark.parametrize(("raw", "on"), [("0", False), ("off", False), (" No ", False),
                                         ("1", True), ("TRUE", True), ("on", True), ("", True)])
def test_a_system_metrics_variable_reads_the_usual_yes_no_words(
    monkeypatch: pytest.MonkeyPatch, raw: str, on: bool
) -> None:
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", raw)
    assert tracking_settings().system_metrics is on


@pytest.mark.parametrize("seed", [-5, 2**32, 2**70])
def test_a_seed_out_of_range_is_refused_before_anything_is_made(
    tmp_path: Path, seed: int
) -> None:
    # The same check (trialbook._seeds.check_seed) the Runner makes at plan time.
    _refused(tmp_path, rf"seed {seed} is out of range; use an integer from 0 to 4294967295",
             seed=seed)
    _refused(tmp_path, rf"seed {seed} is out of range", config={"seed": seed})


def test_the_largest_seed_is_kept(tmp_path: Path) -> None:
    with trialbook.start_run("exp", root=tmp_path, seed=2**32 - 1, **FAST) as run:
        pass
    assert trialbook.open_store(tmp_path).get_run(run.id).seed == 2**32 - 1


# ------------------------------------------------------------------ run.log
def test_an_empty_metric_name_is_refused_and_the_good_points_are_kept(tmp_path: Path) -> None:
    run = trialbook.start_run("exp", root=tmp_path, flush_interval=0.05, **FAST)
    run.log({"": 1.0, "loss": 0.5}, step=0)
    run.log({" ": 2.0}, step=1)
    run.flush()
    with pytest.raises(
        MetricValueError, match=r"metric names must not be empty.*'' \(1 point\), ' ' \(1 point\)"
    ):
        run.log({"loss": 0.4}, step=2)
    run.log({"loss": 0.3}, step=3)  # reported once; logging goes on
    run.finish()
    store = trialbook.open_store(tmp_path)
    assert store.get_run(run.id).status == "completed"
    assert store.metric_history(run.id, "loss").steps == (0, 3)
    assert set(store.metric_summaries([run.id])[run.id]) == {"loss"}


def test_an_empty_metric_name_logged_last_is_reported_by_finish(tmp_path: Path) -> None:
    with (
        pytest.raises(MetricValueError, match=r"'' \(2 points\)"),
        trialbook.start_run("exp", root=tmp_path, **FAST) as run,
    ):
        run.log({"loss": 1.0})
        run.log({"": 1.0})
        run.log({"": 2.0})
    assert trialbook.open_store(tmp_path).get_run(run.id).status == "completed"


@pytest.mark.parametrize("metrics", [[("a", 1.0)], "a", 3.0, None])
def test_log_of_something_that_is_not_a_mapping_names_it(tmp_path: Path, metrics: Any) -> None:
    with trialbook.start_run("exp", root=tmp_path, **FAST) as run:
        with pytest.raises(MetricValueError, match=r"run\.log takes a mapping of names to numbers"):
            run.log(metrics)
        run.log({"a": 1.0})
    assert trialbook.open_store(tmp_path).metric_history(run.id, "a").values == (1.0,)


@pytest.mark.parametrize(
    ("metrics", "match"),
    [
        ({"acc": "high"}, r"'acc': 'high' \(str\), which is not a number"),
        ({"per_type": {"math": "high"}}, r"'per_type.math': 'high' \(str\)"),
        ({"acc": object()}, r"'acc': <object object"),
        ({"acc": [0.5]}, r"'acc': \[0.5\] \(list\)"),
        ({"": 0.5}, r"metric name ''"),
    ],
)
def test_evaluation_metrics_that_are_not_numbers_are_refused(
    tmp_path: Path, metrics: Any, match: str
) -> None:
    with trialbook.start_run("exp", root=tmp_path, **FAST) as run:
        with pytest.raises(MetricValueError, match=match):
            run.log_evaluation("gsm8k", {"metrics": metrics})
        good = {"acc": 0.5, "n": 3, "np": _np_scalar(), "none": None, "per": {"math": 0.8}}
        ok = run.log_evaluation("gsm8k", {"metrics": good})
    assert dict(ok.metrics) == {"acc": 0.5, "n": 3, "np": 0.25, "none": None, "per": {"math": 0.8}}
    assert [e.benchmark for e in trialbook.open_store(tmp_path).evaluations(run.id)] == ["gsm8k"]


def _np_scalar() -> Any:
    import numpy as np

    return np.float32(0.25)


# ------------------------------------------------------------------ log_params
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ("lr=1", r"log_params takes a mapping .* not 'lr=1' \(str\)"),
        ([("lr", 1)], r"not \[\('lr', 1\)\] \(list\)"),
        ({1: 2}, r"log_params: Config key 1 \(type int"),
        ({"f": object()}, r"log_params: Config value 'f' is a object"),
        ({"a": {"b": {2: 1}}}, r"Config key 2 .* at a\.b"),
        (_deep(2000), r"deeper than 100 levels"),
    ],
)
def test_log_params_refuses_what_start_run_refuses_and_stores_nothing(
    tmp_path: Path, params: Any, match: str
) -> None:
    with trialbook.start_run("exp", {"lr": 0.1}, root=tmp_path, **FAST) as run:
        before = trialbook.open_store(tmp_path).params(run.id)
        with pytest.raises(ConfigError, match=match):
            run.log_params(params)
    assert trialbook.open_store(tmp_path).params(run.id) == before


def test_log_params_stores_plain_values(tmp_path: Path) -> None:
    with trialbook.start_run("exp", root=tmp_path, **FAST) as run:
        run.log_params({"batch": 32, "path": Path("/data/x"), "layers": (1, 2), "opt.name": "adam"})
    params = trialbook.open_store(tmp_path).params(run.id)
    assert (params["batch"], params["path"], params["opt.name"]) == (32, "/data/x", "adam")
    assert list(params["layers"]) == [1, 2]


# ------------------------------------------------------------------ log_evaluation
@pytest.mark.parametrize("benchmark", ["", "   "])
def test_an_evaluation_without_a_benchmark_name_is_refused(
    tmp_path: Path, benchmark: str
) -> None:
    with (
        trialbook.start_run("exp", root=tmp_path, **FAST) as run,
        pytest.raises(ConfigError, match=f"benchmark name {benchmark!r} is empty"),
    ):
        run.log_evaluation(benchmark, {"metrics": {"acc": 1.0}})
    assert trialbook.open_store(tmp_path).evaluations(run.id) == []
    assert list(run.path.glob("evaluations/*")) == []


def test_evaluation_samples_sharing_an_id_are_refused_naming_it(tmp_path: Path) -> None:
    samples = [{"id": "a", "correct": True}, {"id": "b", "correct": True},
               {"id": "a", "correct": False}]
    with trialbook.start_run("exp", root=tmp_path, **FAST) as run:
        with pytest.raises(ConfigError, match=r"two samples with the id 'a' \(samples 0 and 2\)"):
            run.log_evaluation("gsm8k", {"metrics": {"acc": 1.0}, "samples": samples})
        # samples without ids are numbered by position, which never collides
        run.log_evaluation("gsm8k", {"metrics": {"acc": 1.0},
                                     "samples": [{"correct": True}, {"correct": False}]})
    evaluations = trialbook.open_store(tmp_path).evaluations(run.id)
    assert len(evaluations) == 1
    ids = [s.sample_id for s in trialbook.open_store(tmp_path).samples(evaluations[0].id)]
    assert ids == ["0", "1"]


# ------------------------------------------------------------------ log_checkpoint
@pytest.mark.parametrize(("step", "match"), [("x", r"step must be an integer, got 'x'"),
                                             (1.5, r"got 1\.5"),
                                             (2**70, r"step 1180591620717411303424 is outside")])
def test_a_checkpoint_step_that_is_not_an_integer_is_refused(
    tmp_path: Path, step: Any, match: str
) -> None:
    with trialbook.start_run("exp", root=tmp_path, **FAST) as run:
        weights = run.checkpoint_dir / "w.pt"
        weights.write_bytes(b"\0" * 16)
        with pytest.raises(ConfigError, match=match):
            run.log_checkpoint(weights, step=step)
        run.log_checkpoint(weights, step=3)
    assert [c.step for c in trialbook.open_store(tmp_path).checkpoints(run.id)] == [3]


# ------------------------------------------------------------------ finish
def test_finish_with_an_unknown_status_changes_nothing_and_a_valid_finish_works(
    tmp_path: Path,
) -> None:
    run = trialbook.start_run("exp", root=tmp_path, **FAST)
    run.log({"loss": 1.0})
    for bad in ("FINISHED", "running", "queued", ""):
        with pytest.raises(ConfigError, match=f"Unknown final status {bad!r}"):
            run.finish(bad)  # type: ignore[arg-type]
        assert not run.finished and run.status == "running"
    run.log({"loss": 0.5})  # still open
    run.finish("failed", error="gave up")
    store = trialbook.open_store(tmp_path)
    assert store.get_run(run.id).status == "failed"
    assert store.metric_history(run.id, "loss").values == (1.0, 0.5)
    assert json.loads((run.path / "summary.json").read_text())["status"] == "failed"


# ------------------------------------------------------------------ run.config
def test_run_config_is_read_only_and_names_log_params(tmp_path: Path) -> None:
    config = {"lr": 1, "model": {"layers": [1, 2]}}
    with trialbook.start_run("exp", config, root=tmp_path, **FAST) as run:
        edits = [
            lambda c: c.__setitem__("lr", 9),
            lambda c: c.update(lr=9),
            lambda c: c.pop("lr"),
            lambda c: c.setdefault("new", 1),
            lambda c: c.__delitem__("lr"),
            lambda c: c.clear(),
            lambda c: c["model"].__setitem__("hidden", 3),
            lambda c: c["model"]["layers"].append(3),
            lambda c: c["model"]["layers"].__setitem__(0, 5),
        ]
        for edit in edits:
            with pytest.raises(ConfigError, match=r"run.config is read-only.*run.log_params"):
                edit(run.config)
        # Reading, copying, serialising work as with a dict.
        assert run.config == config and isinstance(run.config, dict)
        mutable = copy.deepcopy(run.config)
        mutable["lr"] = 2
        assert type(mutable) is dict and type(mutable["model"]["layers"]) is list
        assert run.config.copy() == config and type(run.config.copy()) is dict
        assert json.loads(json.dumps(run.config)) == config
        assert yaml.safe_load(yaml.safe_dump(run.config)) == config
        assert pickle.loads(pickle.dumps(run.config)) == config
        run.log_params({"lr_final": 9})
    record = trialbook.open_store(tmp_path).get_run(run.id)
    assert record.config == config
    assert yaml.safe_load((run.path / "config.yaml").read_text()) == config


# ------------------------------------------------------------------ files
def test_an_artifact_path_that_escapes_the_run_folder_is_copied_in(tmp_path: Path) -> None:
    outside = tmp_path / "x.txt"
    outside.write_text("outside")
    with trialbook.start_run("exp", root=tmp_path / "ws", **FAST) as run:
        sneaky = run.artifacts_dir / ".." / ".." / ".." / "x.txt"
        assert sneaky.resolve() == outside.resolve()
        artifact = run.log_artifact(sneaky)
        (run.artifacts_dir / "link.txt").symlink_to(outside)
        linked = run.log_artifact(run.artifacts_dir / "link.txt")
    assert Path(artifact.path) == (run.artifacts_dir / "x.txt").resolve()
    assert (run.artifacts_dir / "x.txt").read_text() == "outside"
    assert Path(linked.path) == (run.artifacts_dir / "x.txt").resolve()
    for a in trialbook.open_store(tmp_path / "ws").artifacts(run.id):
        assert run.path.resolve() in Path(a.path).parents


def test_an_artifact_that_contains_the_run_folder_is_refused(tmp_path: Path) -> None:
    with trialbook.start_run("exp", root=tmp_path, **FAST) as run:
        for bad in (run.path, run.artifacts_dir / "..", run.artifacts_dir / ".." / ".."):
            with pytest.raises(ConfigError, match="is the run folder or contains it"):
                run.log_artifact(bad)
    assert trialbook.open_store(tmp_path).artifacts(run.id) == []


def test_a_checkpoint_path_that_escapes_the_run_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "model.pt"
    outside.write_bytes(b"w")
    with trialbook.start_run("exp", root=tmp_path / "ws", **FAST) as run:
        sneaky = run.checkpoint_dir / ".." / ".." / ".." / "model.pt"
        with pytest.raises(ConfigError, match=r"is really .*model.pt, outside it"):
            run.log_checkpoint(sneaky)
        (run.checkpoint_dir / "model.pt").write_bytes(b"w")
        inside = run.log_checkpoint(run.checkpoint_dir / "model.pt", step=1)
        elsewhere = run.log_checkpoint(outside, step=2)  # named as what it is: kept
    assert inside.path == str((run.checkpoint_dir / "model.pt").resolve())
    assert elsewhere.path == str(outside.resolve())
    assert len(trialbook.open_store(tmp_path / "ws").checkpoints(run.id)) == 2


def test_log_dataset_in_a_child_process_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text("{}\n")
    with trialbook.start_run("exp", root=tmp_path, **FAST) as run:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                run.log_dataset(tmp_path / "d.jsonl")
            except RunStateError:
                os._exit(7)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 7


# ------------------------------------------------------------------ trialbook run
@pytest.mark.parametrize("dry_run", [False, True])
def test_trialbook_run_refuses_a_bad_flush_interval_before_making_anything(
    tmp_path: Path, dry_run: bool
) -> None:
    import subprocess
    import sys

    (tmp_path / "tasks.py").write_text("def train(config, run):\n    run.log({'x': 1.0})\n")
    (tmp_path / "exp.yaml").write_text("experiment:\n  name: exp\n  entrypoint: tasks:train\n")
    env = {**os.environ, "TRIALBOOK_FLUSH_INTERVAL": "abc", "TRIALBOOK_SYSTEM_METRICS": "0"}
    command = [sys.executable, "-m", "trialbook", "run", "exp.yaml", "--root", "ws"]
    proc = subprocess.run(
        command + (["--dry-run"] if dry_run else []),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "TRIALBOOK_FLUSH_INTERVAL='abc' is not a number" in lines[0]
    assert not (tmp_path / "ws").exists()


def test_finish_says_so_when_summary_json_cannot_be_written(tmp_path: Path) -> None:
    import shutil

    from trialbook.errors import StoreError

    run = trialbook.start_run("exp", root=tmp_path, **FAST)
    run.log({"loss": 1.0})
    shutil.rmtree(run.path)  # the run folder vanished under the run
    with pytest.raises(StoreError, match=r"is completed, but its summary.json could not be"):
        run.finish()
    store = trialbook.open_store(tmp_path)
    assert store.get_run(run.id).status == "completed"
    assert store.metric_history(run.id, "loss").values == (1.0,)


def test_files_in_a_symlinked_workspace_are_recorded_under_the_run_folder_as_named(
    tmp_path: Path,
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "ws").symlink_to(tmp_path / "real")
    with trialbook.start_run("exp", root=tmp_path / "ws", **FAST) as run:
        (run.checkpoint_dir / "model.pt").write_bytes(b"w")
        checkpoint = run.log_checkpoint(run.checkpoint_dir / "model.pt")
        (run.artifacts_dir / "plot.png").write_bytes(b"p")
        artifact = run.log_artifact(run.artifacts_dir / "plot.png")
    assert checkpoint.path == str(run.checkpoint_dir.absolute() / "model.pt")
    assert artifact.path == str(run.artifacts_dir.absolute() / "plot.png")
    assert str(tmp_path / "ws") in checkpoint.path
