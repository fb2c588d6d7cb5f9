"""run_experiments_from_list: experiments built in Python, run like a suite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from runner_helpers import Workspace

from trialbook import ConfigError, ExperimentConfig, run_experiments_from_list
from trialbook.config import TrainingConfig


def test_runs_every_experiment_per_seed_and_resumes(ws: Workspace) -> None:
    experiments = [
        ExperimentConfig(name="baseline", entrypoint="tasks:ok", extra={"value": 0.5}),
        ExperimentConfig(
            name="low_lr",
            entrypoint="tasks:ok",
            training=TrainingConfig(learning_rate=1e-5),
            extra={"value": 0.75},
        ),
    ]

    result = run_experiments_from_list(
        experiments=experiments, seeds=[1, 2], root=ws.root, progress="quiet"
    )

    assert result.exit_code == 0
    assert len(result.completed) == 4
    with ws.store() as store:
        runs = store.list_runs()
        assert sorted((r.experiment, r.seed, r.status) for r in runs) == [
            ("baseline", 1, "completed"),
            ("baseline", 2, "completed"),
            ("low_lr", 1, "completed"),
            ("low_lr", 2, "completed"),
        ]
        low = next(r for r in runs if r.experiment == "low_lr")
        assert low.config["training"]["learning_rate"] == 1e-5
        assert "seed" not in low.config["training"]
        final = store.metric_summaries([low.id])[low.id]["eval_accuracy"]
        assert final.last == 0.75

    again = run_experiments_from_list(
        experiments=experiments, seeds=[1, 2], root=ws.root, progress="quiet"
    )
    assert len(again.skipped) == 4
    assert not again.completed
    with ws.store() as store:
        assert len(store.list_runs()) == 4


def test_mappings_and_yaml_paths_mix(ws: Workspace) -> None:
    path = ws.cwd / "exp.yaml"
    path.write_text(
        yaml.safe_dump({"experiment": {"name": "from_file", "entrypoint": "tasks:ok"}, "seed": 3})
    )
    mapping = {"experiment": {"name": "from_dict", "entrypoint": "tasks:ok"}, "seed": 4}

    result = run_experiments_from_list([path, mapping], root=ws.root, progress="quiet")

    assert result.exit_code == 0
    with ws.store() as store:
        assert sorted((r.experiment, r.seed) for r in store.list_runs()) == [
            ("from_dict", 4),
            ("from_file", 3),
        ]


def test_a_failing_experiment_gives_exit_code_1_and_the_rest_run(ws: Workspace) -> None:
    experiments = [
        ExperimentConfig(name="bad", entrypoint="tasks:boom"),
        ExperimentConfig(name="good", entrypoint="tasks:ok"),
    ]

    result = run_experiments_from_list(experiments, root=ws.root, progress="quiet")

    assert result.exit_code == 1
    assert [o.status for o in result.outcomes] == ["failed", "completed"]


@pytest.mark.parametrize(
    ("experiments", "message"),
    [
        ([], "got no experiments"),
        ([42], "Experiment 0 is a int"),
        ([ExperimentConfig(name="nothing_to_run")], "nothing_to_run"),
        ([ExperimentConfig(name="missing", entrypoint="no_such_module:train")], "no_such_module"),
        (["does-not-exist.yaml"], "does-not-exist.yaml"),
    ],
)
def test_bad_experiments_are_refused_before_anything_is_written(
    ws: Workspace, experiments: list[object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        run_experiments_from_list(experiments, root=ws.root, progress="quiet")

    assert not Path(ws.root).exists() or not any(p.is_dir() for p in ws.root.iterdir())
