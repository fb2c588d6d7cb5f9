"""``experiment.resources`` and ``experiment.slurm``: what a run asks of the machine it runs on.
Checked when the config is read, and left out of the config hash: the same run on another
executor is the same run (a suite moved from local processes to Slurm skips what completed)."""

from __future__ import annotations

from typing import Any

import pytest

from trialbook.config import Resources, config_hash, experiment_block
from trialbook.errors import ConfigError

GIB = 1024**3


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, Resources()),
        ({"cpus": 2}, Resources(cpus=2.0)),
        ({"cpus": 0.5, "gpus": 1}, Resources(cpus=0.5, gpus=1.0)),
        ({"gpus": 0}, Resources(gpus=0.0)),
        ({"memory": 4}, Resources(memory=4 * GIB)),
        ({"memory": 1.5}, Resources(memory=int(1.5 * GIB))),
        ({"memory": "512MB"}, Resources(memory=512 * 1024**2)),
        ({"memory": "16G"}, Resources(memory=16 * GIB)),
        ({"memory": " 2 GiB "}, Resources(memory=2 * GIB)),
        ({"memory": "100k"}, Resources(memory=100 * 1024)),
    ],
)
def test_resources_are_read_in_one_unit(raw: Any, expected: Resources) -> None:
    block: dict[str, Any] = {"name": "e"}
    if raw is not None:
        block["resources"] = raw
    assert experiment_block({"experiment": block}).resources == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([2], "experiment.resources must be a mapping such as {cpus: 2, gpus: 1, memory: 16G}"),
        ({"cpu": 2}, "Unknown key 'experiment.resources.cpu'"),
        ({"cpus": 0}, "experiment.resources.cpus must be more than 0"),
        ({"cpus": -1}, "experiment.resources.cpus must be a number of 0 or more, not -1"),
        ({"gpus": True}, "experiment.resources.gpus must be a number of 0 or more, not True"),
        ({"gpus": "1"}, "experiment.resources.gpus must be a number of 0 or more, not '1'"),
        ({"cpus": float("nan")}, "experiment.resources.cpus must be a number of 0 or more"),
        ({"memory": "lots"}, "memory must be a number of gigabytes or a size such as 512MB"),
        ({"memory": "4 parsecs"}, "not '4 parsecs'"),
        ({"memory": 0}, "experiment.resources.memory must be a number of gigabytes"),
        ({"memory": -2}, "not -2"),
    ],
)
def test_bad_resources_are_one_sentence_naming_the_value(raw: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        experiment_block({"experiment": {"name": "e", "resources": raw}})
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_misspelt_resource_suggests_the_key() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'cpus'"):
        experiment_block({"experiment": {"resources": {"cpuss": 1}}})


def test_slurm_settings_must_be_a_mapping_and_are_kept_as_written() -> None:
    block = experiment_block({"experiment": {"slurm": {"partition": "gpu", "time": "1:00:00"}}})
    assert dict(block.slurm) == {"partition": "gpu", "time": "1:00:00"}
    assert experiment_block({"experiment": {"name": "e"}}).slurm == {}
    with pytest.raises(ConfigError, match=r"experiment.slurm must be a mapping such as"):
        experiment_block({"experiment": {"slurm": "gpu"}})


def test_where_a_run_executes_does_not_change_its_config_hash() -> None:
    base = {"experiment": {"name": "e", "entrypoint": "m:f"}, "lr": 0.1}
    placed = {
        "experiment": {
            "name": "e",
            "entrypoint": "m:f",
            "resources": {"cpus": 4, "gpus": 1},
            "slurm": {"partition": "gpu"},
        },
        "lr": 0.1,
    }
    assert config_hash(placed) == config_hash(base)
    assert config_hash({**base, "lr": 0.2}) != config_hash(base)  # what it computes still counts
