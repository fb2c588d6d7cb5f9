"""``trialbook run`` and ``trialbook reproduce`` from the command line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from cli_helpers import Cli, assert_user_error

import trialbook

TASKS = """
import os, random


def train(config, run):
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    if config.get("seed") == config.get("fail_on_seed"):
        raise ValueError(f"seed {config['seed']} diverged")
    print("trained", config.get("training", {}).get("lr"))
    return {"eval_accuracy": round(random.random(), 6), "size": config.get("size", 0)}


def mistake(config, run):
    from trialbook.errors import ConfigError
    raise ConfigError("data.path 'x.jsonl' does not exist; run `make data` first.")


def noisy(config, run):
    return {"eval_accuracy": int.from_bytes(os.urandom(4), "little") / 2**32}


def set_order(config, run):
    # Depends on how str hashes: the position of "a" in a set of 26 letters.
    return {"pos": list(set("abcdefghijklmnopqrstuvwxyz")).index("a"),
            "hash_seed": int(os.environ["PYTHONHASHSEED"])}
"""

CONFIG = """
experiment:
  name: exp
  entrypoint: tasks:train
seed: 1
size: 0
fail_on_seed: null
training:
  lr: 0.1
"""

SUITE = """
suite: demo
base: exp.yaml
shortcuts:
  size: size
experiments:
  - name: small
  - name: large
    set: {training.lr: 0.5}
"""


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    monkeypatch.setenv("TRIALBOOK_FLUSH_INTERVAL", "0.05")
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "exp.yaml").write_text(textwrap.dedent(CONFIG))
    (tmp_path / "suite.yaml").write_text(textwrap.dedent(SUITE))
    return tmp_path


def _runs(root: Path) -> list[trialbook.RunRecord]:
    with trialbook.open_store(root) as db:
        return db.list_runs(descending=False)


def _metrics(run: trialbook.RunRecord) -> dict[str, float]:
    summary = json.loads((Path(run.folder or "") / "summary.json").read_text())
    return dict(summary["metrics"])


def test_six_runs_one_failing_exits_1_and_records_the_traceback(cli: Cli, cwd: Path) -> None:
    result = cli(
        "run", "exp.yaml", "--seeds", "1", "2", "3", "4", "5", "6", "fail_on_seed=3",
        "--jobs", "2",
    )  # fmt: skip
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "Running 6 run(s), 2 at a time." in result.stdout
    assert "failed exp seed=3 in" in result.stdout
    assert "ValueError: seed 3 diverged" in result.stdout
    assert "6 run(s): 5 completed, 1 failed" in result.stdout
    runs = _runs(cwd / "experiments")
    assert sorted((r.seed, r.status) for r in runs) == [
        (1, "completed"), (2, "completed"), (3, "failed"),
        (4, "completed"), (5, "completed"), (6, "completed"),
    ]  # fmt: skip
    failed = next(r for r in runs if r.status == "failed")
    assert "Traceback" in (failed.error or "") and "seed 3 diverged" in (failed.error or "")
    assert all(r.config["fail_on_seed"] == 3 for r in runs)


def test_a_trialbook_error_in_a_run_shows_as_its_sentence(cli: Cli, cwd: Path) -> None:
    result = cli("run", "exp.yaml", "experiment.entrypoint=tasks:mistake")
    assert result.exit_code == 1
    line = next(ln for ln in result.stdout.splitlines() if "failed exp seed=1 in" in ln)
    assert line.endswith(": data.path 'x.jsonl' does not exist; run `make data` first.")
    assert "trialbook.errors" not in result.stdout + result.stderr


def test_stop_on_error_leaves_the_rest_queued_and_a_rerun_resumes(cli: Cli, cwd: Path) -> None:
    args = ["run", "exp.yaml", "--seeds", "1,2,3", "--set", "fail_on_seed=1"]
    result = cli(*args, "--stop-on-error")
    assert result.exit_code == 1
    assert "Stopped after a failure (--stop-on-error)" in result.stdout
    ls = cli("ls", "--status", "queued")
    assert ls.exit_code == 0 and len(ls.stdout.strip().splitlines()) == 3  # header + 2 runs
    queued = {r.id for r in _runs(cwd / "experiments") if r.status == "queued"}

    # The same command without --stop-on-error: seed 1 fails again, seeds 2 and 3 run in the
    # runs that were left queued.
    result = cli(*args)
    assert result.exit_code == 1, result.stdout
    runs = _runs(cwd / "experiments")
    assert {r.id for r in runs if r.status == "completed"} == queued
    assert sorted(r.status for r in runs) == ["completed"] * 2 + ["failed"] * 2


def test_dry_run_shows_the_plan_and_writes_nothing(cli: Cli, cwd: Path) -> None:
    result = cli("run", "suite.yaml", "--size", "7", "--dry-run")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["#", "name", "seed", "action", "changes", "from", "base"]
    assert lines[1].split()[:4] == ["1", "small", "1", "run"]
    assert "size: 0 -> 7" in lines[1]
    assert "training.lr: 0.1 -> 0.5" in lines[2]
    assert "2 run(s) would run. Nothing was started (--dry-run)." in result.stdout
    assert not (cwd / "experiments").exists()

    assert cli("run", "suite.yaml", "--size", "7").exit_code == 0
    [small, large] = _runs(cwd / "experiments")
    assert small.config["size"] == 7 and large.config["training"]["lr"] == 0.5
    again = cli("run", "suite.yaml", "--size", "7", "--dry-run")
    assert f"skip: completed {small.short_id}" in again.stdout
    assert "0 run(s) would run, 2 skipped." in again.stdout
    rerun = cli("run", "suite.yaml", "--size", "7", "--rerun", "--dry-run")
    assert "2 run(s) would run." in rerun.stdout


@pytest.mark.parametrize("value", ["-3", "-0.5"])
def test_a_negative_shortcut_value_is_a_value_not_a_file(cli: Cli, cwd: Path, value: str) -> None:
    result = cli("run", "suite.yaml", "--size", value, "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert f"size: 0 -> {value}" in result.stdout
    # ... while a flag followed by a short option still leaves the option alone.
    flags = cli("run", "suite.yaml", "--dry-run", "-j", "2", "--size", "1")
    assert flags.exit_code == 0, flags.stderr


def test_suite_shortcuts_are_listed_in_help(cli: Cli, cwd: Path) -> None:
    result = cli("run", "suite.yaml", "--help")
    assert result.exit_code == 0
    assert "Suite options:" in result.stdout and "--size VALUE" in result.stdout
    assert "Sets size." in result.stdout
    assert "Suite options" not in cli("run", "--help").stdout


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "suite.yaml", "--sise", "3"], ["Unknown option '--sise'; did you mean '--size'"]),
        (["run", "exp.yaml", "--stop-on-eror"], ["did you mean '--stop-on-error'"]),
        (["run", "suite.yaml", "--size"], ["Option '--size' needs a value"]),
        (["run", "missing.yaml"], ["missing.yaml does not exist"]),
        (["run"], ["Give the config or suite files to run"]),
        (["run", "exp.yaml", "--jobs", "0"], ["--jobs must be a whole number of at least 1"]),
        (["run", "exp.yaml", "--timeout", "0"], ["--timeout must be a positive number"]),
        (
            ["run", "exp.yaml", "--executor", "kubernetes"],
            ["Unknown executor 'kubernetes'; use one of local, ray, slurm"],
        ),
        (["run", "exp.yaml", "--address", "auto"], ["--address is for --executor ray"]),
        (
            ["run", "exp.yaml", "experiment.entrypoint=nomodule:train"],
            ["Entrypoint module 'nomodule' of experiment 'exp' (exp.yaml) was not found"],
        ),
        (
            ["run", "exp.yaml", "experiment.entrypoint=tasks:trian"],
            ["defines no function 'trian'; did you mean 'train'?"],
        ),
        (
            ["run", "exp.yaml", "experiment.entrypoint=tasks.train"],
            ["'tasks.train'", "is not package.module:function"],
        ),
        (
            ["run", "exp.yaml", "+experiment.command=python train.py"],
            ["sets both experiment.entrypoint and experiment.command; keep one"],
        ),
    ],
)
def test_bad_input_is_one_sentence_exit_2_and_nothing_runs(
    cli: Cli, cwd: Path, args: list[str], fragments: list[str]
) -> None:
    result = cli(*args)
    assert_user_error(result, *fragments)
    assert not (cwd / "experiments").exists()
    result = cli(*args, "--dry-run")
    assert result.exit_code == 2


def test_reproduce_check_matches_a_seeded_run(cli: Cli, cwd: Path) -> None:
    assert cli("run", "exp.yaml").exit_code == 0
    [original] = _runs(cwd / "experiments")
    result = cli("reproduce", original.short_id, "--check")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"Reproduced {original.id} as " in result.stdout
    assert "All 3 metric(s) match." in result.stdout  # eval_accuracy, loss, size
    runs = _runs(cwd / "experiments")
    [copy] = [r for r in runs if r.id != original.id]
    assert copy.tags == (f"reproduces:{original.id}",)
    assert copy.config == original.config and copy.seed == original.seed
    original_summary = json.loads((Path(original.folder or "") / "summary.json").read_text())
    copy_summary = json.loads((Path(copy.folder or "") / "summary.json").read_text())
    assert copy_summary["metrics"] == original_summary["metrics"]


def test_reproduce_check_lists_mismatches_and_exits_1(cli: Cli, cwd: Path) -> None:
    assert cli("run", "exp.yaml", "experiment.entrypoint=tasks:noisy").exit_code == 0
    [original] = _runs(cwd / "experiments")
    result = cli("reproduce", original.id, "--check", "--tolerance", "1e-9")
    assert result.exit_code == 1, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("eval_accuracy"))
    assert row.split()[-1] == "MISMATCH"
    assert "Differences that may explain the mismatches" in result.stdout


def test_reproduce_hashes_strings_as_the_original_run_did(
    cli: Cli, cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "11")
    assert cli("run", "exp.yaml", "experiment.entrypoint=tasks:set_order").exit_code == 0
    monkeypatch.delenv("PYTHONHASHSEED")
    [original] = _runs(cwd / "experiments")
    meta = json.loads((Path(original.folder or "") / "meta.json").read_text())
    assert meta["environment"]["python"]["hash_seed"] == "11"

    result = cli("reproduce", original.id, "--check", "--tolerance", "0")
    assert result.exit_code == 0, result.stdout + result.stderr
    [copy] = [r for r in _runs(cwd / "experiments") if r.id != original.id]
    assert _metrics(copy)["hash_seed"] == 11
    assert _metrics(copy)["pos"] == _metrics(original)["pos"]

    # A run made before meta.json recorded the hash seed hashed with its own seed (1 here).
    del meta["environment"]["python"]["hash_seed"]
    (Path(original.folder or "") / "meta.json").write_text(json.dumps(meta))
    assert cli("reproduce", original.id).exit_code == 0
    newest = _runs(cwd / "experiments")[-1]
    assert newest.id not in (original.id, copy.id) and _metrics(newest)["hash_seed"] == 1


def test_reproduce_refuses_a_run_tracked_by_a_script(cli: Cli, cwd: Path) -> None:
    with trialbook.start_run("scripted", {"lr": 1}, root=cwd / "experiments") as run:
        pass
    result = cli("reproduce", run.id)
    assert_user_error(result, f"Run {run.id} was tracked by its own script", "--config")
    assert len(_runs(cwd / "experiments")) == 1


def test_run_writes_the_resolved_config_and_logs(cli: Cli, cwd: Path) -> None:
    result = cli("run", "exp.yaml", "training.lr=0.25", "+extra=1", "~fail_on_seed")
    assert result.exit_code == 0, result.stdout
    [rec] = _runs(cwd / "experiments")
    folder = Path(rec.folder or "")
    saved = yaml.safe_load((folder / "config.yaml").read_text())
    assert saved["training"]["lr"] == 0.25 and saved["extra"] == 1 and "fail_on_seed" not in saved
    assert (folder / "stdout.log").read_text() == "trained 0.25\n"
    assert "trained 0.25" in result.stdout


IMPORT_LOGGING_TASK = """
import os

# Every process that imports this module adds a line: the run's folder, or "check" for the
# schema check's process (only the runs' processes have TRIALBOOK_RUN_DIR).
with open(os.environ["IMPORT_LOG"], "a") as f:
    f.write(os.environ.get("TRIALBOOK_RUN_DIR", "check") + "\\n")


def train(config, run):
    return {"x": 1.0}
"""


@pytest.mark.parametrize("dry_run", [False, True])
def test_run_checks_the_plan_in_one_separate_process(
    cli: Cli, cwd: Path, monkeypatch: pytest.MonkeyPatch, dry_run: bool
) -> None:
    log = cwd / "imports.log"
    monkeypatch.setenv("IMPORT_LOG", str(log))
    (cwd / "logged.py").write_text(textwrap.dedent(IMPORT_LOGGING_TASK))
    args = ["run", "exp.yaml", "experiment.entrypoint=logged:train", "--seeds", "1,2"]
    result = cli(*args, *(["--dry-run"] if dry_run else []))
    assert result.exit_code == 0, result.stdout + result.stderr
    lines = log.read_text().splitlines()
    assert lines.count("check") == 1  # the schema check imported the module once
    runs = [] if dry_run else [r.folder for r in _runs(cwd / "experiments")]
    assert sorted(line for line in lines if line != "check") == sorted(runs)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["run", "exp.yaml", "--detach"], ["--detach is for --executor slurm, not local"]),
        (
            ["run", "exp.yaml", "--slurm-partition", "gpu"],
            ["--slurm-* options are for --executor slurm, not local"],
        ),
        (
            ["run", "exp.yaml", "--executor", "slurm", "--slurm-time", "soon"],
            ["experiment.slurm.time must be minutes or a Slurm time", "'soon'"],
        ),
        (
            ["run", "exp.yaml", "--executor", "slurm", "+experiment.slurm.partiton=gpu"],
            ["Unknown key 'partiton' in experiment.slurm", "did you mean 'partition'?"],
        ),
    ],
)
def test_slurm_mistakes_are_one_sentence_exit_2_and_nothing_runs(
    cli: Cli, cwd: Path, args: list[str], fragments: list[str]
) -> None:
    assert_user_error(cli(*args), *fragments)
    assert not (cwd / "experiments").exists()


def test_cancel_refuses_a_run_without_a_slurm_job(cli: Cli, cwd: Path) -> None:
    import trialbook

    with trialbook.start_run(root=cwd / "experiments", name="local") as run:
        assert_user_error(
            cli("cancel", run.id, "--root", cwd / "experiments"),
            "has no Slurm job",
            "stop it with Ctrl-C where it runs",
        )
    assert_user_error(cli("cancel", "nosuchrun", "--root", cwd / "experiments"), "nosuchrun")
