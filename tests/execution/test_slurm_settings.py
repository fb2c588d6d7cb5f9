"""experiment.slurm and the --slurm-* options: what is accepted, what sbatch is asked for,
and the one sentence a mistake gets (no cluster needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from trialbook.config import Resources
from trialbook.errors import ConfigError
from trialbook.execution import Task
from trialbook.execution._slurm import (
    _sbatch_parameters,
    check_slurm_settings,
    outcome_of_state,
    parse_slurm_time,
)


@pytest.mark.parametrize(
    ("value", "minutes"),
    [
        (30, 30),
        (0.5, 1),
        ("45", 45),
        ("1:30", 2),
        ("2:00:00", 120),
        ("1-00", 1440),
        ("1-12:30", 2190),
        ("0-0:0:10", 1),
    ],
)
def test_slurm_time_formats_become_minutes(value: Any, minutes: int) -> None:
    assert parse_slurm_time(value) == minutes


@pytest.mark.parametrize("value", ["", "two hours", "1:2:3:4", 0, -5, True, "0:00", None])
def test_a_bad_slurm_time_is_one_sentence(value: Any) -> None:
    with pytest.raises(ConfigError, match=r"experiment\.slurm\.time must be minutes"):
        parse_slurm_time(value)


def test_an_unknown_key_names_it_and_suggests_the_right_one() -> None:
    with pytest.raises(ConfigError) as info:
        check_slurm_settings({"partiton": "gpu"})
    message = str(info.value)
    assert message.startswith("Unknown key 'partiton' in experiment.slurm: it takes partition,")
    assert message.endswith("did you mean 'partition'?")


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"cpus_per_task": 1.5}, "cpus_per_task must be a whole number"),
        ({"gpus_per_node": -1}, "gpus_per_node must be a whole number"),
        ({"mem_gb": "lots"}, "mem_gb must be a positive number of gigabytes"),
        ({"setup": "module load cuda"}, "setup must be a list of shell lines"),
        ({"additional_parameters": ["gres"]}, "additional_parameters must be a mapping"),
        ({"partition": ["a", "b"]}, "partition must be a string"),
    ],
)
def test_a_badly_typed_setting_is_one_sentence(settings: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        check_slurm_settings(settings)


def _task(settings: dict[str, Any], resources: Resources | None = None) -> Task:
    return Task(
        key="r1",
        argv=("true",),
        cwd=Path("/tmp"),
        stdout_path=Path("/tmp/o"),
        stderr_path=Path("/tmp/e"),
        name="baseline seed=1",
        settings=settings,
        resources=resources or Resources(),
    )


def test_overrides_beat_settings_and_resources_fill_the_gaps() -> None:
    task = _task(
        {"partition": "gpu", "time": "2:00:00", "qos": "high"},
        Resources(cpus=1.5, gpus=1, memory=512 * 1024**2),
    )
    params = _sbatch_parameters(task, {"partition": "debug", "time": "10"})
    assert params["partition"] == "debug" and params["time"] == 10 and params["qos"] == "high"
    assert params["cpus_per_task"] == 2 and params["gpus_per_node"] == 1
    assert params["mem"] == "512M" and params["job_name"] == "baseline seed=1"
    explicit = _sbatch_parameters(_task({"cpus_per_task": 4, "mem_gb": 2}, Resources(cpus=1)), {})
    assert explicit["cpus_per_task"] == 4 and explicit["mem"] == "2048M"
    assert explicit["time"] == 60  # the default limit


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("TIMEOUT", {"reason": "timed out (TIMEOUT)"}),
        ("CANCELLED by 0", {"cancelled": True, "reason": "cancelled in Slurm (CANCELLED by 0)"}),
        ("OUT_OF_MEMORY", {"lost": "the Slurm job ran out of memory (OUT_OF_MEMORY)"}),
        ("NODE_FAIL", {"lost": "the Slurm job's node failed (NODE_FAIL)"}),
    ],
)
def test_sacct_states_map_to_how_the_run_ends(state: str, expected: dict[str, Any]) -> None:
    assert outcome_of_state(state) == expected
