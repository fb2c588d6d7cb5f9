"""Planning: files, folders and suites into runs (experiments × sweep points × seeds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from trialbook.config import (
    MISSING,
    Plan,
    config_hash,
    format_changes,
    group_key,
    load_config,
    plan_configs,
    plan_runs,
    suite_shortcuts,
)
from trialbook.errors import ConfigError

Write = Callable[[str, str], Path]

BASE = """\
experiment:
  name: base
  entrypoint: pkg.mod:train
seed: 1
training:
  learning_rate: 0.1
  epochs: 3
data:
  cache: true
"""


def names(plan: Plan) -> list[tuple[str, int | None]]:
    return [(r.name, r.seed) for r in plan.runs]


# --- suites -------------------------------------------------------------------------------


def test_full_suite_is_experiments_times_sweep_times_seeds(data_dir: Path) -> None:
    plan = plan_runs([data_dir / "suite.yaml"])
    assert names(plan) == [
        ("baseline", 42),
        ("baseline", 43),
        ("label_smoothing", 42),
        ("label_smoothing", 43),
        ("soft_weighting", 42),
        ("soft_weighting", 43),
        ("lr_sweep[training.learning_rate=1e-05]", 7),  # the experiment's own seeds
        ("lr_sweep[training.learning_rate=5e-05]", 7),
        ("lr_sweep[training.learning_rate=0.0001]", 7),
    ]
    assert {r.experiment for r in plan.runs} == {
        "baseline",
        "label_smoothing",
        "soft_weighting",
        "lr_sweep",
    }
    assert all(r.source == data_dir / "suite.yaml" for r in plan.runs)
    assert plan.suite is None
    assert plan.notes == ()
    assert plan.shortcuts == {
        "max-train-samples": "training.max_train_samples",
        "max-eval-samples": "data.max_eval_samples",
    }


def test_resolved_configs(data_dir: Path) -> None:
    base = load_config(data_dir / "base.yaml")
    plan = plan_runs([data_dir / "suite.yaml"])
    by_name = {(r.name, r.seed): r for r in plan.runs}

    baseline = by_name[("baseline", 43)].config
    assert baseline["seed"] == 43
    assert baseline["experiment"]["name"] == "baseline"
    # The suite adds only its own tag (descriptive: the config hash leaves tags out).
    assert baseline["experiment"]["tags"] == [*base["experiment"]["tags"], "suite:cartography"]
    assert config_hash({**baseline, "seed": base.get("seed")}) == config_hash(base)
    baseline = {**baseline, "experiment": {**baseline["experiment"], "tags": ["squad", "electra"]}}
    assert {k: v for k, v in baseline.items() if k != "seed"} == {
        k: v for k, v in base.items() if k != "seed"
    }

    smoothing = by_name[("label_smoothing", 42)].config
    assert smoothing["training"]["label_smoothing"]["enabled"] is True
    assert smoothing["experiment"]["description"] == "Per-example label smoothing"
    assert smoothing["experiment"]["tags"] == ["squad", "electra", "smoothing", "suite:cartography"]
    assert smoothing["experiment"]["entrypoint"] == "examples.toy_train:train"
    assert next(iter(smoothing)) == "experiment"

    weighting = by_name[("soft_weighting", 42)].config
    assert weighting["training"]["soft_weighting"]["temperature"] == 2.0
    assert "cache" not in weighting["data"]

    swept = by_name[("lr_sweep[training.learning_rate=1e-05]", 7)].config
    assert swept["training"]["learning_rate"] == 1e-5
    assert swept["experiment"]["name"] == "lr_sweep"
    # the base file itself is untouched
    assert load_config(data_dir / "base.yaml") == base


def test_changes_from_the_base(data_dir: Path) -> None:
    plan = plan_runs([data_dir / "suite.yaml"], overrides=["training.num_train_epochs=1"])
    by_name = {r.name: r for r in plan.runs}
    assert by_name["baseline"].changes == {"training.num_train_epochs": (3.0, 1)}
    weighting = by_name["soft_weighting"]
    assert weighting.changes == {
        "training.num_train_epochs": (3.0, 1),
        "training.soft_weighting.enabled": (False, True),
        "data.cache": (True, MISSING),
        "training.soft_weighting.temperature": (MISSING, 2.0),
    }
    assert format_changes(weighting) == (
        "training.num_train_epochs: 3.0 -> 1, training.soft_weighting.enabled: false -> true, "
        "~data.cache, +training.soft_weighting.temperature: 2.0"
    )
    swept = by_name["lr_sweep[training.learning_rate=1e-05]"]
    assert format_changes(swept) == (
        "training.learning_rate: 5e-05 -> 1e-05, training.num_train_epochs: 3.0 -> 1"
    )


def test_base_run_has_no_changes(write: Write) -> None:
    path = write("exp.yaml", BASE)
    (run,) = plan_runs([path]).runs
    assert run.changes == {}
    assert format_changes(run) == ""


def test_long_values_are_shortened_in_changes(write: Write) -> None:
    path = write("exp.yaml", BASE)
    (run,) = plan_runs([path], overrides=["+notes=" + "x" * 100]).runs
    assert format_changes(run) == "+notes: " + "x" * 37 + "..."


@pytest.mark.parametrize(
    ("suite", "expected"),
    [
        ("minimal", ["baseline", "baseline", "label_smoothing", "label_smoothing"]),
        ("sample", None),  # everything
        ("sweep_only", ["lr_sweep"] * 3),
    ],
)
def test_named_suites(data_dir: Path, suite: str, expected: list[str] | None) -> None:
    plan = plan_runs([data_dir / "suite.yaml"], suite=suite)
    assert plan.suite == suite
    experiments = [r.experiment for r in plan.runs]
    if expected is None:
        assert len(experiments) == 9
    else:
        assert experiments == expected


def test_named_suite_keeps_file_order(write: Write) -> None:
    write("base.yaml", BASE)
    path = write(
        "s.yaml",
        "suite: s\nbase: base.yaml\nexperiments: [a, b, c]\nsuites: {m: [c, a]}\n",
    )
    assert [r.name for r in plan_runs([path], suite="m").runs] == ["a", "c"]


def test_cli_seeds_replace_every_other_seed(data_dir: Path) -> None:
    plan = plan_runs([data_dir / "suite.yaml"], suite="minimal", seeds=[1, 2, 3])
    assert names(plan) == [
        ("baseline", 1),
        ("baseline", 2),
        ("baseline", 3),
        ("label_smoothing", 1),
        ("label_smoothing", 2),
        ("label_smoothing", 3),
    ]
    assert [r.config["seed"] for r in plan.runs] == [1, 2, 3, 1, 2, 3]


def test_seed_precedence(write: Write) -> None:
    write("base.yaml", BASE)  # seed: 1
    path = write(
        "s.yaml",
        """\
        suite: s
        base: base.yaml
        seeds: [10, 11]
        experiments:
          - name: suite_seeds
          - name: own_seeds
            seeds: [20]
        """,
    )
    assert names(plan_runs([path])) == [
        ("suite_seeds", 10),
        ("suite_seeds", 11),
        ("own_seeds", 20),
    ]
    no_suite_seeds = write("t.yaml", "suite: t\nbase: base.yaml\n")
    assert names(plan_runs([no_suite_seeds])) == [("base", 1)]  # the config's own seed
    assert names(plan_runs([no_suite_seeds], overrides=["seed=5"])) == [("base", 5)]


def test_a_config_without_seed_plans_one_run_without_seed(write: Write) -> None:
    path = write("exp.yaml", "experiment: {entrypoint: 'a:b'}\nx: 1\n")
    (run,) = plan_runs([path]).runs
    assert run.seed is None
    assert "seed" not in run.config
    assert run.name == run.experiment == "exp"  # the file's stem when the block has no name
    assert run.config["experiment"] == {"name": "exp", "entrypoint": "a:b"}


def test_grid_sweep_in_key_order(write: Write) -> None:
    write("base.yaml", BASE)
    path = write(
        "s.yaml",
        """\
        suite: s
        base: base.yaml
        sweep:
          training.learning_rate: [0.1, 0.01]
          +training.optimizer: [adam, sgd, null]
        """,
    )
    plan = plan_runs([path])
    assert [r.name for r in plan.runs] == [
        "base[training.learning_rate=0.1,training.optimizer=adam]",
        "base[training.learning_rate=0.1,training.optimizer=sgd]",
        "base[training.learning_rate=0.1,training.optimizer=null]",
        "base[training.learning_rate=0.01,training.optimizer=adam]",
        "base[training.learning_rate=0.01,training.optimizer=sgd]",
        "base[training.learning_rate=0.01,training.optimizer=null]",
    ]
    assert plan.runs[2].config["training"]["optimizer"] is None
    assert len({r.group_key for r in plan.runs}) == 6


def test_suite_sweep_applies_to_every_experiment_unless_replaced(write: Write) -> None:
    write("base.yaml", BASE)
    path = write(
        "s.yaml",
        """\
        suite: s
        base: base.yaml
        sweep: {training.epochs: [1, 2]}
        experiments:
          - a
          - name: b
            sweep: {}
          - name: c
            sweep: {training.learning_rate: [0.5]}
        """,
    )
    assert [r.name for r in plan_runs([path]).runs] == [
        "a[training.epochs=1]",
        "a[training.epochs=2]",
        "b",
        "c[training.learning_rate=0.5]",
    ]


def test_suite_level_set_and_inline_base(write: Write) -> None:
    path = write(
        "s.yaml",
        """\
        suite: inline
        base:
          experiment: {name: inline, entrypoint: 'm:f'}
          training: {learning_rate: 0.1, epochs: 3}
        set: {training.epochs: 1}
        experiments:
          - name: fast
            set: [training.learning_rate=0.5]
        """,
    )
    (run,) = plan_runs([path]).runs
    assert run.config["training"] == {"learning_rate": 0.5, "epochs": 1}
    # the suite-level set is part of the base the changes are measured from
    assert run.changes == {"training.learning_rate": (0.1, 0.5)}


def test_inline_base_errors_point_at_suite_lines(write: Write) -> None:
    path = write(
        "s.yaml",
        "suite: s\nbase:\n  training:\n    epochs: 3\n",
    )
    with pytest.raises(ConfigError) as info:
        plan_runs([path], overrides=["training.epochs.x=1"])
    assert f"goes through 'training.epochs' in {path} (line 4), which is an int (3)" in str(
        info.value
    )


def test_cli_overrides_apply_after_the_suite(write: Write) -> None:
    write("base.yaml", BASE)
    path = write(
        "s.yaml",
        "suite: s\nbase: base.yaml\nexperiments:\n  - {name: a, set: {training.epochs: 9}}\n",
    )
    (run,) = plan_runs([path], overrides=["training.epochs=2", "+training.new=x"]).runs
    assert run.config["training"]["epochs"] == 2
    assert run.config["training"]["new"] == "x"


def test_an_experiment_name_override_renames_a_config_but_not_a_suites_experiments(
    write: Write,
) -> None:
    path = write("base.yaml", BASE)
    (run,) = plan_runs([path], overrides=["experiment.name=renamed"]).runs
    assert (run.name, run.experiment) == ("renamed", "renamed")
    assert run.config["experiment"]["name"] == "renamed"
    assert run.config_hash != plan_runs([path]).runs[0].config_hash
    suite = write("s.yaml", "suite: s\nbase: base.yaml\nexperiments:\n  - a\n  - b\n")
    with pytest.raises(ConfigError, match=r"'experiment.name=x' would give every experiment of"):
        plan_runs([suite], overrides=["experiment.name=x"])


def test_experiment_without_experiments_key_uses_the_base_name(write: Write) -> None:
    write("base.yaml", BASE)
    path = write("s.yaml", "suite: s\nbase: base.yaml\nseeds: [1, 2]\n")
    assert names(plan_runs([path])) == [("base", 1), ("base", 2)]


# --- shortcuts ----------------------------------------------------------------------------


def test_shortcut_values_are_typed_and_applied(data_dir: Path) -> None:
    plan = plan_runs(
        [data_dir / "suite.yaml"],
        suite="minimal",
        shortcut_values={"max-train-samples": "5000", "--max_eval_samples": "null"},
    )
    for run in plan.runs:
        assert run.config["training"]["max_train_samples"] == 5000
        assert run.config["data"]["max_eval_samples"] is None
        assert run.changes["training.max_train_samples"] == (None, 5000)


def test_shortcut_to_a_new_key(write: Write) -> None:
    write("base.yaml", BASE)
    path = write("s.yaml", "suite: s\nbase: base.yaml\nshortcuts: {warmup: +training.warmup}\n")
    assert suite_shortcuts([path]) == {"warmup": "training.warmup"}
    (run,) = plan_runs([path], shortcut_values={"warmup": "100"}).runs
    assert run.config["training"]["warmup"] == 100
    (run,) = plan_runs([path]).runs
    assert "warmup" not in run.config["training"]


def test_suite_shortcuts(data_dir: Path, write: Write) -> None:
    expected = {
        "max-train-samples": "training.max_train_samples",
        "max-eval-samples": "data.max_eval_samples",
    }
    assert suite_shortcuts([data_dir / "suite.yaml"]) == expected
    assert suite_shortcuts([data_dir / "base.yaml"]) == {}
    # cheap: the base config is not read
    path = write("s.yaml", "suite: s\nbase: missing.yaml\nshortcuts: {n: a.b}\n")
    assert suite_shortcuts([path]) == {"n": "a.b"}


def test_unknown_shortcut(data_dir: Path, write: Write) -> None:
    with pytest.raises(ConfigError) as info:
        plan_runs([data_dir / "suite.yaml"], shortcut_values={"max-train-sample": "1"})
    assert str(info.value) == (
        "Unknown shortcut 'max-train-sample' in shortcut_values; did you mean 'max-train-samples'?"
    )
    assert info.value.parameter == "shortcut_values"
    with pytest.raises(ConfigError, match=r"Unknown shortcut 'jobz' .*; the suite declares "):
        plan_runs([data_dir / "suite.yaml"], shortcut_values={"jobz": "1"})
    plain = write("exp.yaml", BASE)
    with pytest.raises(ConfigError, match="no suite given declares shortcuts"):
        plan_runs([plain], shortcut_values={"max-train-samples": "1"})


# --- hashes -------------------------------------------------------------------------------


def test_hash_ignores_key_order_and_formatting(write: Write) -> None:
    a = write("a.yaml", BASE)
    b = write(
        "b.yaml",
        """\
        data: {cache: yes}
        training: {epochs: 3.0, learning_rate: 1e-1}
        seed: 1
        experiment: {entrypoint: "pkg.mod:train", name: 'base'}
        """,
    )
    (run_a,) = plan_runs([a]).runs
    (run_b,) = plan_runs([b]).runs
    assert run_a.config_hash == run_b.config_hash == config_hash(run_a.config)
    assert run_a.group_key == run_b.group_key == group_key(run_a.config)
    assert len(run_a.config_hash) == 16


def test_seeds_share_the_group_key_only(data_dir: Path) -> None:
    plan = plan_runs([data_dir / "suite.yaml"], suite="minimal")
    baseline_42, baseline_43, smooth_42, _ = plan.runs
    assert baseline_42.group_key == baseline_43.group_key != smooth_42.group_key
    assert baseline_42.config_hash != baseline_43.config_hash


def test_hash_is_stable_across_plans(data_dir: Path) -> None:
    first = plan_runs([data_dir / "suite.yaml"])
    again = plan_runs([data_dir / "suite.yaml"])
    assert [r.config_hash for r in first.runs] == [r.config_hash for r in again.runs]


def test_the_same_run_twice_is_planned_once(write: Write) -> None:
    path = write("exp.yaml", BASE)
    plan = plan_runs([path, path])
    assert names(plan) == [("base", 1)]
    assert plan.notes == (
        f"base seed=1 from {path} is the same config as base seed=1 from {path}; it is "
        "planned once.",
    )


def test_cli_override_collapsing_a_sweep_is_planned_once(write: Write) -> None:
    write("base.yaml", BASE)
    path = write("s.yaml", "suite: s\nbase: base.yaml\nsweep: {training.epochs: [1, 2]}\n")
    plan = plan_runs([path], overrides=["training.epochs=5"])
    assert len(plan.runs) == 1
    assert len(plan.notes) == 1
    assert "is the same config as base[training.epochs=1]" in plan.notes[0]


# --- inputs -------------------------------------------------------------------------------


def test_several_configs(write: Write) -> None:
    a = write("a.yaml", BASE.replace("name: base", "name: first"))
    b = write("b.yaml", BASE.replace("name: base", "name: second"))
    assert [r.name for r in plan_runs([a, b]).runs] == ["first", "second"]
    assert [r.name for r in plan_runs([b, a]).runs] == ["second", "first"]


def test_folder_recursive_sorted_and_a_suites_base_runs_only_in_the_suite(
    write: Write, tmp_path: Path
) -> None:
    write("configs/z.yaml", BASE.replace("name: base", "name: z"))
    write("configs/sub/a.yml", BASE.replace("name: base", "name: a"))
    write("configs/sub/base.yaml", BASE)
    write("configs/sub/suite.yaml", "suite: s\nbase: base.yaml\nexperiments: [s1, s2]\n")
    write("configs/.hidden/h.yaml", BASE.replace("name: base", "name: hidden"))
    write("configs/notes.txt", "not yaml")
    plan = plan_runs([tmp_path / "configs"])
    assert [r.name for r in plan.runs] == ["a", "s1", "s2", "z"]


def test_named_suite_lookup(write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write("configs/base.yaml", BASE)
    write(
        "configs/suites/minimal.yaml",
        "suite: minimal\nbase: ../base.yaml\nexperiments: [a, b]\n",
    )
    write(
        "suites/sample.yml",
        "suite: sample\nbase: ../configs/base.yaml\nexperiments: [a, b, c]\n"
        "suites: {sample: [a, c], other: [b]}\n",
    )
    monkeypatch.chdir(tmp_path)
    minimal = plan_runs([], suite="minimal")
    assert [r.name for r in minimal.runs] == ["a", "b"]
    assert minimal.suite == "minimal"
    assert minimal.runs[0].source == Path("configs/suites/minimal.yaml")
    # a file found by name that defines a suite of that name selects it
    assert [r.name for r in plan_runs([], suite="sample").runs] == ["a", "c"]
    assert suite_shortcuts([], suite="minimal") == {}


def test_named_suite_missing_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        plan_runs([], suite="minimal")
    assert str(info.value) == (
        "No suite named 'minimal': there is no minimal.yaml in ./suites/ and ./configs/suites/; "
        "give the suite file too (in paths), e.g. configs/suite.yaml."
    )
    assert info.value.parameter == "suite" and info.value.value == "minimal"


def test_plan_configs_from_python() -> None:
    @dataclass
    class Training:
        learning_rate: float = 0.1

    @dataclass
    class Experiment:
        name: str = "typed"
        entrypoint: str = "m:f"

    @dataclass
    class Config:
        experiment: Experiment = field(default_factory=Experiment)
        training: Training = field(default_factory=Training)

    plan = plan_configs([Config(), {"experiment": {"name": "plain"}, "x": 1}], seeds=[1, 2])
    assert names(plan) == [("typed", 1), ("typed", 2), ("plain", 1), ("plain", 2)]
    assert plan.runs[0].config["training"] == {"learning_rate": 0.1}
    assert plan.runs[0].source is None
    changed = plan_configs([Config()], overrides=["training.learning_rate=0.5"])
    assert changed.runs[0].changes == {"training.learning_rate": (0.1, 0.5)}
    with pytest.raises(ConfigError, match="No configs to plan"):
        plan_configs([])


# --- bad input: one sentence each, nothing planned -----------------------------------------

BAD_SUITES: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "sweep over a missing key",
        "suite: s\nbase: base.yaml\nsweep:\n  training.lr: [1, 2]\n",
        {},
        "In {s} (line 4), the sweep key 'training.lr' is not in the config of experiment "
        "'base' ({base}); did you mean 'training.learning_rate'? Write +training.lr to sweep "
        "a new key.",
    ),
    (
        "sweep not a list",
        "suite: s\nbase: base.yaml\nsweep: {training.epochs: 3}\n",
        {},
        "In {s} (line 3), the sweep over training.epochs must be a non-empty list of values",
    ),
    (
        "empty sweep list",
        "suite: s\nbase: base.yaml\nsweep: {training.epochs: []}\n",
        {},
        "must be a non-empty list",
    ),
    (
        "sweep with ~",
        "suite: s\nbase: base.yaml\nsweep: {~training.epochs: [1]}\n",
        {},
        "starts with ~",
    ),
    (
        "sweep not a mapping",
        "suite: s\nbase: base.yaml\nsweep: [1]\n",
        {},
        "sweep: must map config keys to lists",
    ),
    (
        "empty experiments",
        "suite: s\nbase: base.yaml\nexperiments: []\n",
        {},
        "Suite {s} (line 3) lists no experiments; add at least one",
    ),
    (
        "experiments not a list",
        "suite: s\nbase: base.yaml\nexperiments: {a: 1}\n",
        {},
        "experiments: must be a list",
    ),
    (
        "experiment without name",
        "suite: s\nbase: base.yaml\nexperiments: [{set: {}}]\n",
        {},
        "the experiment has no name",
    ),
    (
        "experiment of a wrong type",
        "suite: s\nbase: base.yaml\nexperiments: [3]\n",
        {},
        "an experiment must be a name or a mapping",
    ),
    (
        "duplicate names",
        "suite: s\nbase: base.yaml\nexperiments:\n  - a\n  - b\n  - name: a\n",
        {},
        "Suite {s} has two experiments named 'a' (lines 4 and 6); give each a unique name.",
    ),
    (
        "unknown suite key",
        "suite: s\nbase: base.yaml\nexperimnts: [a]\n",
        {},
        "Unknown key 'experimnts' in {s} (line 3); did you mean 'experiments'?",
    ),
    (
        "unknown experiment key",
        "suite: s\nbase: base.yaml\nexperiments: [{name: a, sett: {}}]\n",
        {},
        "Unknown key 'sett' in {s} (line 3); did you mean 'set'?",
    ),
    ("no base", "suite: s\nexperiments: [a]\n", {}, "Suite {s} has no base: config"),
    (
        "missing base",
        "suite: s\nbase: nope.yaml\n",
        {},
        "The base config nope.yaml of suite {s} does not exist",
    ),
    ("base is a suite", "suite: s\nbase: other.yaml\n", {}, "is itself a suite file"),
    ("base of a wrong type", "suite: s\nbase: 3\n", {}, "base: must be a config file path"),
    ("bad suite name", "suite: [a]\nbase: base.yaml\n", {}, "suite: must be a name"),
    (
        "override in set over a missing key",
        "suite: s\nbase: base.yaml\nexperiments:\n  - name: a\n    set: {training.lr: 3}\n",
        {},
        "Unknown config key 'training.lr' in {s} (line 5) (from override 'training.lr=3'); "
        "did you mean 'training.learning_rate'?",
    ),
    (
        "malformed override in set",
        "suite: s\nbase: base.yaml\nset: ['a..b=1']\n",
        {},
        "In {s} (line 3): Override 'a..b=1' has an empty part",
    ),
    ("set of a wrong type", "suite: s\nbase: base.yaml\nset: 3\n", {}, "set: must be a mapping"),
    (
        "seeds not ints",
        "suite: s\nbase: base.yaml\nseeds: [1, x]\n",
        {},
        "seeds: must be a list of integers",
    ),
    (
        "seeds repeated",
        "suite: s\nbase: base.yaml\nseeds: [1, 1]\n",
        {},
        "{s} (line 3): seed 1 is listed twice",
    ),
    ("seeds empty", "suite: s\nbase: base.yaml\nseeds: []\n", {}, "the list of seeds is empty"),
    (
        "named suite lists an unknown experiment",
        "suite: s\nbase: base.yaml\nexperiments: [baseline]\nsuites: {m: [baselin]}\n",
        {},
        "the suite m lists 'baselin', which is not an experiment of {s}; did you mean 'baseline'?",
    ),
    (
        "named suite of a wrong type",
        "suite: s\nbase: base.yaml\nsuites: [m]\n",
        {},
        "suites: must map suite names",
    ),
    (
        "empty named suite",
        "suite: s\nbase: base.yaml\nexperiments: [a]\nsuites: {m: []}\n",
        {"suite": "m"},
        "The suite m in {s} (line 4) selects no experiments",
    ),
    (
        "unknown named suite",
        "suite: s\nbase: base.yaml\nexperiments: [a]\nsuites: {minimal: [a]}\n",
        {"suite": "minmal"},
        "Unknown suite 'minmal' in {s}; did you mean 'minimal'?",
    ),
    (
        "no named suites",
        "suite: s\nbase: base.yaml\n",
        {"suite": "minimal"},
        "Unknown suite 'minimal' in {s}; it defines none",
    ),
    (
        "shortcut to a missing key",
        "suite: s\nbase: base.yaml\nshortcuts: {n: training.epoch}\n",
        {},
        "the shortcut n points at 'training.epoch', which is not in {base}; did you mean "
        "'training.epochs'? Write +training.epoch to add it as a new key.",
    ),
    (
        "shortcut with a bad name",
        "suite: s\nbase: base.yaml\nshortcuts: {Max_N: a}\n",
        {},
        "the shortcut name 'Max_N' is not an option name",
    ),
    (
        "shortcut removing",
        "suite: s\nbase: base.yaml\nshortcuts: {n: ~training.epochs}\n",
        {},
        "a shortcut sets a key",
    ),
    (
        "shortcut target not text",
        "suite: s\nbase: base.yaml\nshortcuts: {n: 3}\n",
        {},
        "must name a config key",
    ),
    (
        "shortcuts not a mapping",
        "suite: s\nbase: base.yaml\nshortcuts: [n]\n",
        {},
        "shortcuts: must map option names",
    ),
    (
        "cli override of a missing key",
        "suite: s\nbase: base.yaml\n",
        {"overrides": ["training.lr=1"]},
        "Unknown config key 'training.lr' in {base} (from override 'training.lr=1'); did you "
        "mean 'training.learning_rate'? Use +training.lr=... to add a new key.",
    ),
    (
        "malformed cli override",
        "suite: s\nbase: base.yaml\n",
        {"overrides": ["a.b"]},
        "Override 'a.b' has no value",
    ),
    (
        "seeds argument repeated",
        "suite: s\nbase: base.yaml\n",
        {"seeds": [1, 2, 1]},
        "seeds: seed 1 is listed twice",
    ),
    (
        "seeds argument not ints",
        "suite: s\nbase: base.yaml\n",
        {"seeds": ["1"]},
        "seeds takes integers such as [42, 43, 44], not '1'.",
    ),
    (
        "seeds argument empty",
        "suite: s\nbase: base.yaml\n",
        {"seeds": []},
        "the list of seeds is empty",
    ),
    (
        "seed override and seeds",
        "suite: s\nbase: base.yaml\n",
        {"seeds": [1], "overrides": ["seed=2"]},
        "seeds and an override of seed both set the seed; drop the override of seed.",
    ),
    (
        "seed overridden to text",
        "suite: s\nbase: base.yaml\n",
        {"overrides": ["seed=abc"]},
        "The seed of base is 'abc'; a seed must be an integer",
    ),
    (
        "experiment block broken by an override",
        "suite: s\nbase: base.yaml\n",
        {"overrides": ["experiment.entrypoint=3"]},
        "experiment.entrypoint must be a string",
    ),
]


@pytest.mark.parametrize(
    ("suite_text", "kwargs", "message"),
    [case[1:] for case in BAD_SUITES],
    ids=[case[0] for case in BAD_SUITES],
)
def test_bad_suites(write: Write, suite_text: str, kwargs: dict[str, Any], message: str) -> None:
    base = write("base.yaml", BASE)
    write("other.yaml", "suite: o\nbase: base.yaml\n")
    suite = write("s.yaml", suite_text)
    with pytest.raises(ConfigError) as info:
        plan_runs([suite], **kwargs)
    text = str(info.value)
    assert message.format(s=suite, base=base) in text
    assert "\n" not in text


def test_bad_inputs(write: Write, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Config file .*nope\.yaml does not exist"):
        plan_runs([tmp_path / "nope.yaml"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"The folder .*empty holds no \.yaml or \.yml files"):
        plan_runs([tmp_path / "empty"])
    with pytest.raises(ConfigError, match="Nothing to run: give a config file"):
        plan_runs([])
    bad_yaml = write("bad.yaml", "a: [1,\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:2:1: "):
        plan_runs([bad_yaml])
    exps = write("exps.yaml", "base: base.yaml\nexperiments: [a]\n")
    with pytest.raises(ConfigError, match="has experiments: but no suite: key"):
        plan_runs([exps])
    plain = write("plain.yaml", BASE)
    with pytest.raises(ConfigError, match=r"suite='minimal' selects experiments from a suite"):
        plan_runs([plain], suite="minimal")
    with pytest.raises(ConfigError, match="is not a suite name"):
        plan_runs([], suite="../etc/passwd")
