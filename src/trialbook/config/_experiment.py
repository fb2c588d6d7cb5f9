"""The reserved ``experiment:`` block of a config: what the experiment is and what code it runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trialbook.config._suggest import did_you_mean
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.config._load import ConfigSource

__all__ = [
    "EXPERIMENT_KEYS",
    "ExperimentBlock",
    "Resources",
    "check_experiment_keys",
    "experiment_block",
]

#: The keys an ``experiment:`` block may hold.
EXPERIMENT_KEYS = (
    "name",
    "description",
    "hypothesis",
    "tags",
    "entrypoint",
    "command",
    "resources",
    "slurm",
)

#: The keys of ``experiment.resources``.
RESOURCE_KEYS = ("cpus", "gpus", "memory")

_MEMORY_UNITS = {
    "": 1024**3,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "tib": 1024**4,
}


@dataclass(frozen=True)
class Resources:
    """What one run asks of the machine it runs on (``experiment.resources``).

    Executors that schedule (Ray, Slurm) reserve these for the run; the local executor runs
    ``--jobs`` runs at once and does not check them.

    Attributes:
        cpus: CPU cores (may be fractional for Ray); None: the executor's default (1).
        gpus: GPUs; None: none asked for.
        memory: bytes of memory; None: the executor's default. In a config it is a number of
            gigabytes (``memory: 4``) or a size with a unit (``memory: 512MB``, ``16G``).
    """

    cpus: float | None = None
    gpus: float | None = None
    memory: int | None = None


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
        resources: what one run asks of its machine (``experiment.resources``).
        slurm: settings for ``--executor slurm`` (``experiment.slurm``: partition, time, ...),
            checked by the Slurm executor, not here.
    """

    name: str | None = None
    description: str | None = None
    hypothesis: str | None = None
    tags: tuple[str, ...] = ()
    entrypoint: str | None = None
    command: str | None = None
    resources: Resources = field(default_factory=Resources)
    slurm: Mapping[str, Any] = field(default_factory=dict)


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
    slurm = block.get("slurm")
    if slurm is None:
        slurm = {}
    if not isinstance(slurm, Mapping):
        raise ConfigError(
            f"In {_at_key(source, 'slurm')}, experiment.slurm must be a mapping such as "
            f"{{partition: gpu, time: '2:00:00'}}, not {slurm!r}."
        )
    return ExperimentBlock(
        resources=_resources(block.get("resources"), source),
        slurm=dict(slurm),
        name=text["name"],
        description=text["description"],
        hypothesis=text["hypothesis"],
        tags=tuple(tags),
        entrypoint=text["entrypoint"],
        command=text["command"],
    )


def _resources(raw: Any, source: ConfigSource | None) -> Resources:
    """Check and read ``experiment.resources``."""
    if raw is None:
        return Resources()
    where = _at_key(source, "resources")
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"In {where}, experiment.resources must be a mapping such as "
            f"{{cpus: 2, gpus: 1, memory: 16G}}, not {raw!r}."
        )
    for key in raw:
        if key not in RESOURCE_KEYS:
            fix = did_you_mean(str(key), RESOURCE_KEYS) or "."
            raise ConfigError(
                f"Unknown key 'experiment.resources.{key}' in {where}: it takes only "
                f"{', '.join(RESOURCE_KEYS)}{fix}"
            )
    counts: dict[str, float | None] = {}
    for key in ("cpus", "gpus"):
        value = raw.get(key)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0
        ):
            raise ConfigError(
                f"In {where}, experiment.resources.{key} must be a number of 0 or more, "
                f"not {value!r}."
            )
        counts[key] = None if value is None else float(value)
    if counts["cpus"] == 0:
        raise ConfigError(
            f"In {where}, experiment.resources.cpus must be more than 0 (a run needs a core); "
            "use a fraction such as 0.5 to share one."
        )
    return Resources(
        cpus=counts["cpus"], gpus=counts["gpus"], memory=_memory(raw.get("memory"), where)
    )


def _memory(value: Any, where: str) -> int | None:
    """Bytes of ``experiment.resources.memory``: a number of gigabytes, or a size with a
    unit (``512MB``, ``16G``, ``1.5GiB``)."""
    if value is None:
        return None
    bad = ConfigError(
        f"In {where}, experiment.resources.memory must be a number of gigabytes or a size "
        f"such as 512MB or 16G, not {value!r}."
    )
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int | float):
        number, unit = float(value), ""
    elif isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", value)
        if match is None or match.group(2).lower() not in _MEMORY_UNITS:
            raise bad
        number, unit = float(match.group(1)), match.group(2).lower()
    else:
        raise bad
    if not number > 0 or number != number:
        raise bad
    return int(number * _MEMORY_UNITS[unit])
