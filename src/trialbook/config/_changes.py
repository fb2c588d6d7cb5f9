"""Change reports: how a planned run's config differs from its base, for dry-run tables.

Two values are a change only when they are not the same setting (:func:`same_setting`, the
config hash's rule): ``lr: 1`` set to ``1.0`` is no change, ``true`` over ``1`` is one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from trialbook.config._hash import DESCRIPTIVE_KEYS, flatten_config, same_setting
from trialbook.config._plan import MISSING, PlannedRun

__all__ = ["config_changes", "format_changes", "format_value"]

# What names or describes a run rather than configures it is not a change.
_NOT_CHANGES = frozenset(
    {"seed", "experiment.name", *(f"experiment.{key}" for key in DESCRIPTIVE_KEYS)}
)


def config_changes(
    base: Mapping[str, Any], config: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """Flattened key -> (base value, new value) for every setting ``config`` changes.

    A key only one side has is reported with :data:`MISSING` on the other side; the seed and
    the descriptive keys of the ``experiment:`` block are left out.
    """
    before = flatten_config(base)
    after = flatten_config(config)
    changes: dict[str, tuple[Any, Any]] = {}
    for key in [*before, *(k for k in after if k not in before)]:
        if key in _NOT_CHANGES:
            continue
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if old is MISSING or new is MISSING or not same_setting(old, new):
            changes[key] = (old, new)
    return changes


def format_value(value: Any, limit: int = 40) -> str:
    """A config value as a plan shows it (``1e-05``, ``true``, ``[1,2]``), cut at ``limit``."""
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, separators=(",", ":"), default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_changes(run: PlannedRun) -> str:
    """The run's differences from its base, for a dry-run table.

    ``training.learning_rate: 5e-05 -> 1e-05, +training.new: 1, ~data.cache``; empty when
    the run is the base config itself.
    """
    parts = []
    for key, (old, new) in run.changes.items():
        if old is MISSING:
            parts.append(f"+{key}: {format_value(new)}")
        elif new is MISSING:
            parts.append(f"~{key}")
        else:
            parts.append(f"{key}: {format_value(old)} -> {format_value(new)}")
    return ", ".join(parts)
