"""The experiment: block, type-checked."""

from __future__ import annotations

from typing import Any

import pytest

from trialbook.config import ExperimentBlock, experiment_block
from trialbook.config._load import parse_yaml
from trialbook.errors import ConfigError


def test_full_block() -> None:
    config = {
        "experiment": {
            "name": "baseline",
            "description": "plain",
            "hypothesis": "works",
            "tags": ["a", "b"],
            "entrypoint": "examples.toy_train:train",
        }
    }
    assert experiment_block(config) == ExperimentBlock(
        name="baseline",
        description="plain",
        hypothesis="works",
        tags=("a", "b"),
        entrypoint="examples.toy_train:train",
    )


def test_absent_block_is_empty() -> None:
    assert experiment_block({"seed": 1}) == ExperimentBlock()


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"name": 3}, "experiment.name must be a string, not int 3"),
        ({"name": "  "}, "experiment.name is empty"),
        ({"command": ""}, "experiment.command is empty"),
        ({"entrypoint": ["m:f"]}, "experiment.entrypoint must be a string, not list"),
        ({"tags": "baseline"}, "experiment.tags must be a list of strings"),
        ({"tags": [1]}, "experiment.tags must be a list of strings"),
        ({"nmae": "x"}, "did you mean 'name'?"),
    ],
)
def test_bad_blocks(block: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        experiment_block({"experiment": block})
    assert message in str(info.value)


def test_bad_block_names_the_line() -> None:
    source = parse_yaml("experiment:\n  name: x\n  tags: oops\n")
    with pytest.raises(ConfigError, match=r"In <config> \(line 3\), experiment\.tags"):
        experiment_block(source.data, source)


@pytest.mark.parametrize("value", [None, 3, "x"])
def test_block_not_a_mapping(value: Any) -> None:
    with pytest.raises(ConfigError, match="experiment:"):
        experiment_block({"experiment": value})
