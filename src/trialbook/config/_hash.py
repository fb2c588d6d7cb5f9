"""Config normalisation, flattening, stable hashing and the one "same setting" rule.

The config hash ignores key order and formatting; the group key is the hash of the config
without its top-level ``seed``, so runs that differ only by seed share it.

Two values are the same setting exactly when the hash says so (:func:`same_setting`): a whole
float equals the int (``1`` and ``1.0``), a boolean is not a number (``true`` is not ``1``),
NaN equals NaN, mappings compare without key order and lists in order. Sweep de-duplication,
the change reports of a plan, ``~key=value`` overrides and attach-mode conflicts all use it.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from trialbook._values import flatten as flatten_config
from trialbook.errors import ConfigError

__all__ = [
    "DESCRIPTIVE_KEYS",
    "canonical_setting",
    "config_hash",
    "flatten_config",
    "group_key",
    "same_setting",
    "to_plain_config",
]


def to_plain_config(config: Any) -> dict[str, Any]:
    """Turn a mapping, dataclass, pydantic model or ``to_dict()`` object into plain data.

    Raises:
        ConfigError: the config (or a value inside it) cannot be written as YAML.
    """
    if config is None:
        return {}
    top = _to_mapping(config)
    if top is None:
        raise ConfigError(
            f"A config must be a mapping, a dataclass or a pydantic model, not "
            f"{type(config).__name__}; pass a dict such as {{'learning_rate': 1e-4}}."
        )
    return {str(k): _plain(v, str(k)) for k, v in top.items()}


def _to_mapping(obj: Any) -> Mapping[str, Any] | None:
    if isinstance(obj, Mapping):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    dump = getattr(obj, "model_dump", None)  # pydantic v2
    if callable(dump):
        result = dump()
        return result if isinstance(result, Mapping) else None
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        return result if isinstance(result, Mapping) else None
    return None


def _plain(value: Any, path: str) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, enum.Enum):
        return _plain(value.value, path)
    if isinstance(value, PurePath):
        return os.fspath(value)
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:  # NumPy / torch scalars
        return _plain(item(), path)
    if isinstance(value, list | tuple):
        return [_plain(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, set | frozenset):
        return sorted((_plain(v, path) for v in value), key=repr)
    nested = _to_mapping(value)
    if nested is not None:
        return {str(k): _plain(v, f"{path}.{k}") for k, v in nested.items()}
    raise ConfigError(
        f"Config value {path!r} is a {type(value).__name__}, which cannot be saved to "
        "config.yaml; use numbers, strings, booleans, lists or mappings."
    )


def _canonical(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return repr(value)
        if value.is_integer():
            return int(value)  # 1.0 and 1 are the same setting
        return value
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def canonical_setting(value: Any) -> str:
    """The text the config hash sees for ``value``: equal texts are the same setting.

    ``canonical_setting(1) == canonical_setting(1.0)``; ``canonical_setting(True)`` differs
    from both.
    """
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), default=str)


def same_setting(a: Any, b: Any) -> bool:
    """Whether two config values are the same setting, by the config hash's rule.

    ``1`` and ``1.0`` are the same (a YAML ``1.0`` and ``1`` configure the same thing); ``True``
    and ``1`` are not (a flag is not a count), nor are ``"1"`` and ``1``; NaN is the same as NaN;
    mappings compare without regard to key order, lists element by element.
    """
    return canonical_setting(a) == canonical_setting(b)


#: Keys of the ``experiment:`` block that describe a run without changing what it does: editing
#: a description must not make a suite run everything again. Where it runs (``resources``,
#: ``slurm``) does not change what it computes either: the same suite on another executor
#: skips the runs already completed.
DESCRIPTIVE_KEYS = frozenset({"description", "hypothesis", "tags", "resources", "slurm"})


def _hashed_part(config: Mapping[str, Any]) -> Mapping[str, Any]:
    block = config.get("experiment")
    if not isinstance(block, Mapping) or not DESCRIPTIVE_KEYS & set(block):
        return config
    kept = {k: v for k, v in block.items() if k not in DESCRIPTIVE_KEYS}
    return {**config, "experiment": kept}


def config_hash(config: Mapping[str, Any]) -> str:
    """A 16-hex-digit hash of the config that ignores key order and formatting.

    The ``experiment:`` block's description, hypothesis, tags, resources and slurm settings
    are left out: they describe the run or where it runs, they do not change what it
    computes. Its name, entrypoint and command count.
    """
    blob = canonical_setting(_hashed_part(config))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def group_key(config: Mapping[str, Any]) -> str:
    """The config hash without the top-level ``seed``: runs of one setting share it."""
    return config_hash({k: v for k, v in config.items() if k != "seed"})
