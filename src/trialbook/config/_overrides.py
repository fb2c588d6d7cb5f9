"""Command-line overrides in the grammar Hydra users know.

===============  =====================================================================
``a.b=1``        set a key that exists (an unknown key is an error with a did-you-mean)
``+a.b=1``       add a key that does not exist yet (missing parent sections are created)
``++a.b=1``      set the key, adding it if it does not exist
``~a.b``         remove a key that exists
``~a.b=1``       remove it only if its value is 1
===============  =====================================================================

Values are YAML, typed the way config files are (``1e-4`` is a float, ``[1, 2]`` a list,
``'1'`` a string), except that text YAML would turn into something else by accident stays
text: ``#ff0000`` is not a comment and ``a: b`` is not a mapping unless written ``{a: b}``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from trialbook.config._hash import same_setting
from trialbook.config._suggest import a_or_an, closest
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.config._load import ConfigSource

__all__ = [
    "Override",
    "OverrideOp",
    "apply_overrides",
    "key_candidates",
    "parse_key",
    "parse_override",
    "parse_value",
    "split_prefix",
]

#: What an override does: set an existing key, add a new one, set-or-add, or remove.
OverrideOp = Literal["set", "add", "force", "remove"]

_PREFIXES: tuple[tuple[str, OverrideOp], ...] = (("++", "force"), ("+", "add"), ("~", "remove"))
_SEGMENT = re.compile(r"[\w\-/@%$]+")
_NULLS = {"", "~", "null", "Null", "NULL"}
_GRAMMAR = (
    "write key=value to set a key, +key=value to add one, ++key=value to set or add, "
    "~key to remove one (keys are dotted, e.g. training.learning_rate)"
)


class _NoValue:
    def __repr__(self) -> str:
        return "<no value>"


_NO_VALUE: Any = _NoValue()


@dataclass(frozen=True)
class Override:
    """One parsed override.

    Attributes:
        op: ``"set"``, ``"add"`` (``+``), ``"force"`` (``++``) or ``"remove"`` (``~``).
        path: the key path, e.g. ``("training", "learning_rate")``.
        value: the typed value; for a remove, the value the key must have (or
            :attr:`has_value` is False).
        text: the override as the user wrote it, for messages.
    """

    op: OverrideOp
    path: tuple[str, ...]
    value: Any = _NO_VALUE
    text: str = ""

    @property
    def key(self) -> str:
        """The dotted key, e.g. ``"training.learning_rate"``."""
        return ".".join(self.path)

    @property
    def has_value(self) -> bool:
        """False only for a bare ``~key``."""
        return self.value is not _NO_VALUE

    @classmethod
    def from_item(cls, key: str, value: Any) -> Override:
        """An override from a mapping item whose value is already typed, as in a suite's
        ``set: {training.lr: 1e-4, +training.new: 1, ~data.cache: null}``.

        A ``~key`` whose value is null removes the key whatever its value.
        """
        if not isinstance(key, str):
            raise ConfigError(
                f"Override key {key!r} is not a string; write dotted keys such as "
                "training.learning_rate."
            )
        op, bare = split_prefix(key)
        path = parse_key(bare, f"{key}: {value!r}")
        if op == "remove" and value is None:
            value = _NO_VALUE
        return cls(
            op, path, value, f"{key}={_format_value(value)}" if value is not _NO_VALUE else key
        )


def split_prefix(text: str) -> tuple[OverrideOp, str]:
    """``"+a.b"`` -> ``("add", "a.b")``: the operation a key's prefix asks for, and the key."""
    for prefix, op in _PREFIXES:
        if text.startswith(prefix):
            return op, text[len(prefix) :]
    return "set", text


def parse_key(key: str, text: str) -> tuple[str, ...]:
    """``"a.b"`` -> ``("a", "b")``; ``text`` is the whole override, for messages.

    Raises:
        ConfigError: an empty key, an empty part (``a..b``) or a part that is not a plain name.
    """
    if not key:
        raise ConfigError(f"Override '{text}' has no key; {_GRAMMAR}.")
    parts = tuple(key.split("."))
    for part in parts:
        if not part:
            raise ConfigError(
                f"Override '{text}' has an empty part in the key '{key}'; {_GRAMMAR}."
            )
        if not _SEGMENT.fullmatch(part):
            raise ConfigError(
                f"Override '{text}' has the key part '{part}', which is not a plain name "
                f"(letters, digits, _ and -); {_GRAMMAR}."
            )
    return parts


def parse_override(text: str) -> Override:
    """Parse ``a.b=1``, ``+a.b=1``, ``++a.b=1``, ``~a.b`` or ``~a.b=1``.

    Raises:
        ConfigError: the text does not follow the grammar (no key, no value where one is
            needed, an empty key part such as ``a..b``) or the value is not valid YAML.
    """
    if not isinstance(text, str):
        raise ConfigError(f"Override {text!r} is not text; {_GRAMMAR}.")
    op, rest = split_prefix(text.strip())
    key, sep, raw = rest.partition("=")
    key = key.strip()
    if not sep and op != "remove":
        if not key:
            raise ConfigError(f"Override '{text}' has no key; {_GRAMMAR}.")
        parse_key(key, text)
        raise ConfigError(
            f"Override '{text}' has no value; write {key}=VALUE to set it, +{key}=VALUE to "
            f"add it or ~{key} to remove it."
        )
    path = parse_key(key, text)
    value = parse_value(raw, text) if sep else _NO_VALUE
    return Override(op, path, value, text)


def parse_value(raw: str, text: str | None = None) -> Any:
    """Type an override value as YAML (``1e-4`` -> float, ``[1, 2]`` -> list, ``''`` -> '').

    An empty value is the empty string, as in Hydra; write ``null`` for None.
    """
    import yaml

    from trialbook.config._load import parse_yaml_value

    stripped = raw.strip()
    if stripped == "":
        return ""
    try:
        value = parse_yaml_value(stripped, f"override '{text or raw}'")
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(
            f"The value in override '{text or raw}' is not valid YAML ({problem}); quote it "
            f"to pass text, e.g. key='{stripped}'."
        ) from None
    # What YAML would read as a comment, a block mapping or a block list stays text.
    if value is None and stripped not in _NULLS:
        return stripped
    if isinstance(value, dict) and not stripped.startswith("{"):
        return stripped
    if isinstance(value, list) and not stripped.startswith("["):
        return stripped
    return value


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def _coerce(item: str | Override) -> Override:
    return item if isinstance(item, Override) else parse_override(item)


def key_candidates(config: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Every dotted key in the config, sections included, for a did-you-mean."""
    keys: list[str] = []
    for key, value in config.items():
        full = f"{prefix}{key}"
        keys.append(full)
        if isinstance(value, Mapping):
            keys.extend(key_candidates(value, full + "."))
    return keys


def _in(source: ConfigSource | str | None, key_path: tuple[str, ...] | None = None) -> str:
    if source is None:
        return ""
    if isinstance(source, str):
        return f" in {source}"
    return f" in {source.where(key_path)}"


def apply_overrides(
    config: Mapping[str, Any],
    overrides: Iterable[str | Override],
    source: ConfigSource | str | None = None,
) -> dict[str, Any]:
    """Return a copy of ``config`` with the overrides applied in order (the input is untouched).

    ``source`` (a :class:`ConfigSource` or a file name) only makes messages point at the file.

    Raises:
        ConfigError: an override is malformed, sets or removes a key that does not exist
            (with a did-you-mean), adds a key that already exists, or goes through a value
            that is not a mapping.
    """
    result: dict[str, Any] = copy.deepcopy(dict(config))
    for item in overrides:
        _apply_one(result, _coerce(item), source)
    return result


def _apply_one(config: dict[str, Any], ov: Override, source: ConfigSource | str | None) -> None:
    node: dict[str, Any] = config
    for depth, part in enumerate(ov.path[:-1]):
        parent_path = ov.path[: depth + 1]
        child = node.get(part, _NO_VALUE)
        if child is _NO_VALUE:
            if ov.op in ("add", "force"):
                child = node[part] = {}
            else:
                raise _unknown(config, ov, source)
        if not isinstance(child, dict):
            dotted = ".".join(parent_path)
            raise ConfigError(
                f"Override '{ov.text}' goes through '{dotted}'{_in(source, parent_path)}, which "
                f"is {_describe(child)}, not a section; set '{dotted}' itself or pick another key."
            )
        node = child
    leaf = ov.path[-1]
    exists = leaf in node
    if ov.op == "set":
        if not exists:
            raise _unknown(config, ov, source)
        node[leaf] = copy.deepcopy(ov.value)
    elif ov.op == "add":
        if exists:
            raise ConfigError(
                f"Override '{ov.text}' adds '{ov.key}', but it already exists"
                f"{_in(source, ov.path)} (value {_format_value(node[leaf])}); use "
                f"{ov.key}=... to change it or ++{ov.key}=... to set it either way."
            )
        node[leaf] = copy.deepcopy(ov.value)
    elif ov.op == "force":
        node[leaf] = copy.deepcopy(ov.value)
    else:
        if not exists:
            raise _unknown(config, ov, source)
        if ov.has_value and not same_setting(node[leaf], ov.value):
            raise ConfigError(
                f"Override '{ov.text}' removes '{ov.key}' only if its value is "
                f"{_format_value(ov.value)}, but it is {_format_value(node[leaf])}"
                f"{_in(source, ov.path)}; write ~{ov.key} to remove it whatever its value."
            )
        del node[leaf]


def _describe(value: Any) -> str:
    kind = "a list" if isinstance(value, list) else a_or_an(type(value).__name__)
    if value is None:
        return "null"
    return f"{kind} ({_format_value(value)})"


def _unknown(
    config: Mapping[str, Any], ov: Override, source: ConfigSource | str | None
) -> ConfigError:
    match = closest(ov.key, key_candidates(config))
    head = f"Unknown config key '{ov.key}'{_in(source)} (from override '{ov.text}')"
    if ov.op == "remove":
        tail = f"; did you mean '{match}'?" if match else "; there is nothing to remove."
    elif match:
        tail = f"; did you mean '{match}'? Use +{ov.key}=... to add a new key."
    else:
        tail = f"; use +{ov.key}=... to add it as a new key."
    return ConfigError(head + tail)
