"""The reserved ``experiment:`` block of a config: what the experiment is and what code it runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from trialbook.config._suggest import did_you_mean
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.config._load import ConfigSource

__all__ = ["EXPERIMENT_KEYS", "ExperimentBlock", "check_experiment_keys", "experiment_block"]

#: The keys an ``experiment:`` block may hold.
EXPERIMENT_KEYS = ("name", "description", "hypothesis", "tags", "entrypoint", "command")


@dataclass(frozen=True)
class ExperimentBlock:
    """The ``experiment:`` block of a config, checked for types.

    Whether ``entrypoint`` or ``command`` is required (and that not both are given) is the
    Runner's rule, not this record's: a config used with ``start_run`` needs neither.

    Attributes:
        name: the experiment's name, or None when the block does not say.
        description, hypothesis: free text, or None.
        tags: labels for ``trialbook ls --tag``.
        entrypoint: ``package.module:function``, called as ``function(config, run)``.
        command: a shell-style command line; ``{config}`` is replaced by the config.yaml path.
    """

    name: str | None = None
    description: str | None = None
    hypothesis: str | None = None
    tags: tuple[str, ...] = ()
    entrypoint: str | None = None
    command: str | None = None


def _at_key(source: ConfigSource | None, key: str) -> str:
    if source is None:
        return "the config"
    return source.where(("experiment", key))


def check_experiment_keys(block: Mapping[str, Any], source: ConfigSource | None = None) -> None:
    """Refuse keys an ``experiment:`` block does not know, with a did-you-mean."""
    for key in block:
        if key not in EXPERIMENT_KEYS:
            known = ", ".join(EXPERIMENT_KEYS)
            fix = did_you_mean(str(key), EXPERIMENT_KEYS) or (
                "; put your own settings in a section of their own."
            )
            raise ConfigError(
                f"Unknown key 'experiment.{key}' in {_at_key(source, str(key))}: the "
                f"experiment: block takes only {known}{fix}"
            )


def experiment_block(
    config: Mapping[str, Any], source: ConfigSource | None = None
) -> ExperimentBlock:
    """Read and type-check the ``experiment:`` block of ``config`` (empty when absent).

    Raises:
        ConfigError: the block is not a mapping, has an unknown key, or a value of the wrong
            type (every field is a string except ``tags``, a list of strings).
    """
    block = config.get("experiment")
    if block is None:
        if "experiment" in config:
            raise ConfigError(
                f"In {_at_key(source, '')}, experiment: is empty; give it a mapping such as "
                "{name: baseline, entrypoint: 'examples.toy_train:train'} or remove it."
            )
        return ExperimentBlock()
    if not isinstance(block, Mapping):
        raise ConfigError(
            f"In {_at_key(source, '')}, experiment: must be a mapping with name, entrypoint or "
            f"command, ..., not {block!r}."
        )
    check_experiment_keys(block, source)
    text: dict[str, str | None] = {}
    for key in ("name", "description", "hypothesis", "entrypoint", "command"):
        value = block.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(
                f"In {_at_key(source, key)}, experiment.{key} must be a string, not "
                f"{type(value).__name__} {value!r}; quote it if YAML read it as something else."
            )
        if key in ("name", "entrypoint", "command") and value is not None and not value.strip():
            raise ConfigError(
                f"In {_at_key(source, key)}, experiment.{key} is empty; give a value or remove "
                "the key."
            )
        text[key] = value
    tags = block.get("tags")
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ConfigError(
            f"In {_at_key(source, 'tags')}, experiment.tags must be a list of strings such as "
            f"[baseline, cartography], not {tags!r}."
        )
    return ExperimentBlock(
        name=text["name"],
        description=text["description"],
        hypothesis=text["hypothesis"],
        tags=tuple(tags),
        entrypoint=text["entrypoint"],
        command=text["command"],
    )
