"""Naming what to compare in a shared workspace (issue 10, items 1, 2 and 4).

One real workspace, built once by ``trialbook run`` in child processes: two suites that both
have experiments ``baseline`` and ``other`` --

* ``suites/clinc.yaml`` (``suite: clinc``): seeds 1-3, evaluated on ``clinc150``, run first;
* ``configs/suite.yaml`` (``suite:`` left empty, so it is named after its folder: ``configs``):
  seeds 1-2, evaluated on ``toy``, run second (its groups are the newest);

then a reproduction of clinc's baseline seed 1 and a rerun of the whole configs suite, so that
two seeds have two completed runs each.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import Cli, assert_user_error

import trialbook

TASKS = """
import random


def train(config, run):
    rng = random.Random(config["seed"] * 1000 + int(config["quality"] * 100))
    good = [rng.random() < config["quality"] for _ in range(60)]
    samples = [
        {"id": f"q{i}", "prediction": "p", "reference": "r", "correct": ok}
        for i, ok in enumerate(good)
    ]
    accuracy = sum(s["correct"] for s in samples) / len(samples)
    run.log({"loss": 1.0 - accuracy}, step=0)
    run.log_evaluation(config["benchmark"], {"metrics": {"accuracy": accuracy}, "samples": samples})
"""

BASE = """
experiment:
  name: baseline
  entrypoint: tasks:train
seed: 1
benchmark: {benchmark}
quality: {quality}
training:
  learning_rate: {lr}
"""

CLINC = """
suite: clinc
base: base.yaml
seeds: [1, 2, 3]
experiments:
  - name: baseline
  - name: other
    set: {quality: 0.8}
"""

CONFIGS = """
suite:
base: base.yaml
seeds: [1, 2]
experiments:
  - name: baseline
  - name: other
    set: {quality: 0.55}
"""


def _run(cli: Cli, *args: str | Path) -> str:
    result = cli(*args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The workspace root; the cwd is its parent (where tasks.py and the suites are)."""
    cwd = tmp_path_factory.mktemp("names")
    (cwd / "tasks.py").write_text(textwrap.dedent(TASKS))
    (cwd / "suites").mkdir()
    clinc_base = BASE.format(benchmark="clinc150", quality=0.6, lr=0.1)
    (cwd / "suites" / "base.yaml").write_text(clinc_base)
    (cwd / "suites" / "clinc.yaml").write_text(CLINC)
    (cwd / "configs").mkdir()
    (cwd / "configs" / "base.yaml").write_text(BASE.format(benchmark="toy", quality=0.5, lr=0.01))
    (cwd / "configs" / "suite.yaml").write_text(CONFIGS)
    cli = Cli()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
            mp.delenv(name, raising=False)
        mp.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
        mp.setenv("TRIALBOOK_FLUSH_INTERVAL", "0.05")
        mp.chdir(cwd)
        root = cwd / "experiments"
        _run(cli, "run", "suites/clinc.yaml", "--jobs", "2")
        _run(cli, "run", "configs/suite.yaml", "--jobs", "2")
        with trialbook.open_store(root) as db:
            (first,) = db.list_runs(experiment="baseline", seed=1, tags=("suite:clinc",))
        _run(cli, "reproduce", first.id)
        _run(cli, "run", "configs/suite.yaml", "--rerun", "--jobs", "2")
        old = os.getcwd()
        yield root
        assert os.getcwd() == old


def _group_of(root: Path, experiment: str, suite: str) -> str:
    with trialbook.open_store(root) as db:
        keys = {r.group_key for r in db.list_runs(experiment=experiment, tags=(f"suite:{suite}",))}
    (key,) = keys
    return f"group:{key[:12]}"


# --------------------------------------------------------------------------- item 1: suites
def test_suite_runs_carry_their_suite_and_ls_scopes_to_it(cli: Cli, shared: Path) -> None:
    with trialbook.open_store(shared) as db:
        runs = db.list_runs()
    suites = {t for r in runs for t in r.tags if t.startswith("suite:")}
    assert suites == {"suite:clinc", "suite:configs"}  # configs/suite.yaml: named by its folder
    # The reproduction keeps the suite: the tag is in the run folder's config.yaml too.
    reproduction = next(r for r in runs if any(t.startswith("reproduces:") for t in r.tags))
    assert "suite:clinc" in reproduction.tags

    listed = json.loads(_run(cli, "ls", "--root", shared, "--suite", "clinc", "--json"))
    assert len(listed) == 7  # 2 experiments x 3 seeds + the reproduction
    assert all("suite:clinc" in r["tags"] for r in listed)
    args = ("--suite", "configs", "-w", "params.quality>0.52", "--json")
    scoped = json.loads(_run(cli, "ls", "--root", shared, *args))
    assert {(r["experiment"], r["seed"]) for r in scoped} == {("other", 1), ("other", 2)}


def test_significance_on_a_shared_name_uses_the_group_with_the_benchmark(
    cli: Cli, shared: Path
) -> None:
    result = cli("significance", "baseline", "other", "--benchmark", "clinc150", "--root", shared)

    assert result.exit_code == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    clinc_base = _group_of(shared, "baseline", "clinc")
    configs_base = _group_of(shared, "baseline", "configs")
    assert notes[0] == (
        f"note: 'baseline' names 2 seed groups; using {clinc_base} (suite clinc, 3 runs, "
        f"evaluated on clinc150); others: {configs_base} (suite configs, 2 runs, "
        "benchmark=toy, quality=0.5, training.learning_rate=0.01) -- pass `group:<key>` or "
        "`suite/experiment` (e.g. `configs/baseline`) to pick another."
    )
    assert any(n.startswith("note: 'other' names 2 seed groups; using ") for n in notes)
    # The reproduction of seed 1 is not a fourth seed.
    left = "1 older run of seed 1 left out of 'baseline', replaced by a reproduction: a group"
    assert any(left in n for n in notes)
    assert "3 and 3 seeds" in result.stdout  # Welch over one run per seed

    (doc,) = json.loads(
        _run(cli, "significance", "baseline", "other", "-b", "clinc150", "--json", "--root", shared)
    )
    assert doc["n"] == 3 and doc["n_b"] == 3
    assert any(n.startswith("'baseline' names 2 seed groups") for n in doc["notes"])


def test_compare_without_a_benchmark_takes_the_newest_groups_of_one_suite(
    cli: Cli, shared: Path
) -> None:
    result = cli("compare", "baseline", "other", "--root", shared, "--json")

    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc["tables"]) == ["toy", "logged metrics"]  # the configs suite's groups
    assert doc["config"]["quality"] == [0.5, 0.55]
    assert len(doc["notes"]) == 4  # which group, twice; the rerun's left-out runs, twice
    assert f"using {_group_of(shared, 'other', 'configs')} (suite configs" in result.stderr


def test_suite_slash_experiment_and_the_suite_option_pick_without_a_note(
    cli: Cli, shared: Path
) -> None:
    by_path = cli("compare", "clinc/baseline", "clinc/other", "--root", shared, "--json")
    by_option = cli("compare", "baseline", "other", "--suite", "clinc", "--root", shared, "--json")

    for result in (by_path, by_option):
        assert result.exit_code == 0, result.stderr
        assert "names 2 seed groups" not in result.stderr
        assert list(json.loads(result.stdout)["tables"]) == ["clinc150", "logged metrics"]


def test_report_and_leaderboard_take_the_suite(cli: Cli, shared: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = cli("report", "baseline", "other", "--suite", "configs", "--root", shared, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert out.is_file() and "toy" in out.read_text()

    board = json.loads(
        _run(
            cli,
            "leaderboard",
            "-b",
            "clinc150",
            "--by",
            "group",
            "--suite",
            "clinc",
            "--root",
            shared,
            "--json",
        )
    )
    assert sorted(r["entry"] for r in board["rows"]) == ["baseline", "other"]
    assert [r["n"] for r in board["rows"]] == [3, 3]
    assert board["note"].startswith("1 older run of seed 1 left out of baseline (group:")


def test_analyze_takes_the_suite(cli: Cli, shared: Path, tmp_path: Path) -> None:
    result = cli("analyze", "--suite", "clinc", "--root", shared, "--out-dir", tmp_path)
    assert result.exit_code == 0, result.stderr
    runs = (tmp_path / "results.csv").read_text().splitlines()
    assert len(runs) == 1 + 7


def test_a_name_of_two_experiments_lists_the_groups_and_the_command(
    cli: Cli, shared: Path, tmp_path: Path
) -> None:
    root = tmp_path / "experiments"
    common = {"root": root, "system_metrics": False, "capture_packages": False}
    for experiment, lr in (("exp_one", 0.1), ("exp_two", 0.2)):
        with trialbook.start_run(experiment, {"lr": lr}, seed=1, name="shared", **common):
            pass
    with trialbook.start_run("exp_one", {"lr": 0.3}, seed=1, name="solo", **common):
        pass

    line = assert_user_error(
        cli("compare", "shared", "solo", "--root", root), "'shared' names 2 seed groups"
    )
    with trialbook.open_store(root) as db:
        keys = {r.experiment: r.group_key[:12] for r in db.list_runs(name="shared")}
    assert f"group:{keys['exp_one']} (experiment exp_one, 1 run, lr=0.1)" in line
    assert f"group:{keys['exp_two']} (experiment exp_two, 1 run, lr=0.2)" in line
    newest = keys["exp_two"]
    assert line.endswith(
        f"name one as 'group:{newest}', as in `trialbook compare group:{newest} solo --root "
        f"{root}`."
    )


# --------------------------------------------------------------------------- item 2
def test_ls_by_group_counts_one_run_per_seed(cli: Cli, shared: Path) -> None:
    result = cli("ls", "--by", "group", "--root", shared)
    assert result.exit_code == 0, result.stderr
    groups = json.loads(_run(cli, "ls", "--by", "group", "--root", shared, "--json"))
    by_suite = {(g["experiment"], tuple(g["suites"])): g for g in groups}
    clinc = by_suite[("baseline", ("clinc",))]
    assert (clinc["n"], clinc["seeds"], len(clinc["left_out"])) == (3, [1, 2, 3], 1)
    configs = by_suite[("other", ("configs",))]
    assert (configs["n"], configs["seeds"], len(configs["left_out"])) == (2, [1, 2], 2)
    assert "left out" in result.stdout.splitlines()[0]
    assert result.stderr == (
        "note: 5 older runs of seeds 1, 2 left out in 3 groups, replaced by a reproduction or "
        "a rerun: a group counts one run per seed, the newest completed.\n"
    )


# --------------------------------------------------------------------------- item 4
@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (
            ["ls", "--sort", "nosuchmetric"],
            "No run in this workspace logged the metric 'nosuchmetric' (--sort); ",
        ),
        (
            ["ls", "--sort", "los"],
            "logged the metric 'los' (--sort); did you mean 'loss'?",
        ),
        (
            ["ls", "--where", "params.training.learnig_rate<1"],
            "No run in this workspace has the param 'training.learnig_rate' (--where "
            "'params.training.learnig_rate<1'); did you mean 'params.training.learning_rate'?",
        ),
        (["ls", "-e", "basline"], "No experiment 'basline'; did you mean 'baseline'?"),
        (
            ["ls", "--where", "lr<0.1"],
            "No run in this workspace logged the metric 'lr' (--where 'lr<0.1'); did you mean "
            "'params.training.learning_rate'?",
        ),
        (["ls", "--suite", "clnc"], "No run belongs to the suite 'clnc'; did you mean 'clinc'?"),
        (
            ["leaderboard", "-b", "clinc150", "--experiment", "basline"],
            "No experiment 'basline'; did you mean 'baseline'?",
        ),
        (["export", "--experiment", "basline"], "No experiment 'basline'; did you mean"),
        (
            ["compare", "baseline", "other", "--suite", "config"],
            "No run belongs to the suite 'config'; did you mean 'configs'?",
        ),
        (
            ["compare", "clnc/baseline", "other"],
            "'clnc/baseline' names no run, and 'clnc' is not a suite; did you mean "
            "'clinc/baseline'?",
        ),
        (
            ["significance", "basline", "other", "--benchmark", "clinc150"],
            "'basline' is neither a run (id, prefix, short id or name), a group ('group:<key "
            "prefix>') nor an experiment; did you mean 'baseline'?",
        ),
        (["compare", "baseline", "othr"], "nor an experiment; did you mean 'other'?"),
        (["report", "basline"], "nor an experiment; did you mean 'baseline'?"),
        (
            ["leaderboard", "--metric", "los"],
            "No run logged 'los' or has it in an evaluation; did you mean 'loss'?",
        ),
    ],
)
def test_a_typo_in_a_filter_is_one_sentence_with_a_did_you_mean(
    cli: Cli, shared: Path, args: list[str], sentence: str
) -> None:
    assert_user_error(cli(*args, "--root", shared), sentence)


def test_existing_names_that_match_nothing_stay_an_empty_answer(cli: Cli, shared: Path) -> None:
    result = cli("ls", "-e", "other", "--where", "params.quality>0.99", "--root", shared)
    assert result.exit_code == 0 and result.stdout == ""
    assert result.stderr == "No runs match.\n"
