"""ExperimentConfig / TrainingConfig: the typed Python form of an experiment config."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from trialbook import ConfigError
from trialbook.config import (
    CartographyFilterConfig,
    ClusterFilterConfig,
    ExperimentConfig,
    LabelSmoothingConfig,
    SoftWeightingConfig,
    TrainingConfig,
    config_hash,
    group_key,
)


def make_experiment(**training: object) -> ExperimentConfig:
    return ExperimentConfig(
        name="cartography_25",
        description="Keep the 25% most ambiguous examples",
        entrypoint="my_project.train:train",
        tags=["cartography"],
        training=TrainingConfig(
            max_train_samples=5000,
            cartography_filter=CartographyFilterConfig(
                enabled=True, cartography_output_dir="./cartography_output", top_fraction=0.25
            ),
            **training,  # type: ignore[arg-type]
        ),
        extra={"data": {"dataset": "squad"}},
    )


def test_to_config_is_an_ordinary_trialbook_config() -> None:
    config = make_experiment(seed=7).to_config()

    assert config["experiment"] == {
        "name": "cartography_25",
        "description": "Keep the 25% most ambiguous examples",
        "entrypoint": "my_project.train:train",
        "tags": ["cartography"],
    }
    # The seed moves to the top level, where --seeds and seed groups look for it.
    assert config["seed"] == 7
    assert "seed" not in config["training"]
    assert config["training"]["cartography_filter"] == {
        "enabled": True,
        "cartography_output_dir": "./cartography_output",
        "top_fraction": 0.25,
        "include_easy": True,
        "include_hard": True,
        "ambiguous_fraction": None,
    }
    assert config["data"] == {"dataset": "squad"}


def test_seeds_share_a_group_key_and_differ_in_hash() -> None:
    a = make_experiment(seed=42).to_config()
    b = make_experiment(seed=43).to_config()

    assert group_key(a) == group_key(b)
    assert config_hash(a) != config_hash(b)


def test_save_and_load_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    experiment = make_experiment()

    path = experiment.save()

    assert path == Path("configs/cartography_25.yaml")
    assert yaml.safe_load(path.read_text())["experiment"]["name"] == "cartography_25"
    assert ExperimentConfig.load(path) == experiment
    assert not list(Path("configs").glob("*.tmp"))


def test_save_to_a_given_path(tmp_path: Path) -> None:
    path = make_experiment().save(tmp_path / "nested" / "exp.yaml")

    assert path.is_file()
    assert ExperimentConfig.load(path).training.max_train_samples == 5000


def test_combined_strategies() -> None:
    training = TrainingConfig(
        cartography_filter=CartographyFilterConfig(enabled=True, cartography_output_dir="c"),
        label_smoothing=LabelSmoothingConfig(enabled=True, cartography_output_dir="c"),
        soft_weighting=SoftWeightingConfig(weight_clip_min=0.5, weight_clip_max=2.0),
        cluster_filter=ClusterFilterConfig(
            enabled=True, cluster_assignments_path="clusters.json", min_cluster_probability=0.2
        ),
    )
    config = ExperimentConfig(name="combined", training=training).to_config()

    assert config["training"]["label_smoothing"]["smoothing_factor"] == 0.6
    assert config["training"]["cluster_filter"]["exclude_clusters"] == [-1]
    assert config["training"]["soft_weighting"]["enabled"] is False


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: LabelSmoothingConfig(enabled=True),
            "cartography_output_dir is required when enabled=True",
        ),
        (
            lambda: ClusterFilterConfig(enabled=True),
            "cluster_assignments_path is required",
        ),
        (
            lambda: SoftWeightingConfig(weight_clip_min=3, weight_clip_max=2),
            "weight_clip_min (3.0) is above weight_clip_max (2.0)",
        ),
        (lambda: CartographyFilterConfig(top_fraction=1.5), "less than or equal to 1"),
        (lambda: TrainingConfig(learning_rat=1e-4), "learning_rat"),
        (lambda: ExperimentConfig(name="a b"), "String should match pattern"),
        (lambda: ExperimentConfig(name="x", entrypoint="m:f", command="python t.py"), "not both"),
    ],
)
def test_invalid_values_are_refused_at_construction(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()  # type: ignore[operator]


def test_from_config_names_key_paths_as_in_the_yaml_file() -> None:
    bad = {
        "experiment": {"name": "x", "entrypont": "m:f"},
        "seed": "abc",
        "training": {"learning_rat": 1e-4, "label_smoothing": {"enabled": True}},
    }

    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_config(bad, source="exp.yaml")

    message = str(info.value)
    assert "exp.yaml: unknown key 'experiment.entrypont'" in message
    assert "did you mean 'experiment.entrypoint'?" in message
    assert "seed = 'abc'" in message
    assert "did you mean 'training.learning_rate'?" in message
    assert "training.label_smoothing" in message
    assert "cartography_output_dir is required" in message


def test_from_config_refuses_non_mappings() -> None:
    with pytest.raises(ConfigError, match="is a list, not a mapping"):
        ExperimentConfig.from_config([1, 2], source="exp.yaml")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"experiment: in exp\.yaml must be a mapping"):
        ExperimentConfig.from_config({"experiment": "x"}, source="exp.yaml")


def test_load_reports_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        ExperimentConfig.load(tmp_path / "nope.yaml")

    broken = tmp_path / "broken.yaml"
    broken.write_text("experiment:\n  name: [x\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml:\d+:\d+: .*fix the YAML syntax there"):
        ExperimentConfig.load(broken)


def test_extra_may_not_shadow_reserved_sections() -> None:
    with pytest.raises(ValueError, match="extra may not hold"):
        ExperimentConfig(name="x", extra={"seed": 1})


def test_descriptions_and_tags_do_not_change_the_hash() -> None:
    a = make_experiment().to_config()
    b = make_experiment().to_config()
    b["experiment"]["description"] = "typo fixed"
    b["experiment"]["hypothesis"] = "it helps"
    b["experiment"]["tags"] = ["other"]
    renamed = make_experiment().to_config()
    renamed["experiment"]["name"] = "another"

    assert config_hash(a) == config_hash(b)
    assert group_key(a) == group_key(b)
    assert config_hash(a) != config_hash(renamed)
