"""Suite files: read a suite's structure (its schema is :mod:`._suite_schema`) into a
:class:`Suite`, with every mistake reported as one sentence at its file and line.

A suite file is a YAML mapping with a ``suite:`` key (see docs/configs.md)::

    suite: cartography
    base: base.yaml
    seeds: [42, 43, 44]
    shortcuts: {max-train-samples: training.max_train_samples}
    experiments:
      - name: baseline
      - name: label_smoothing
        set: {training.label_smoothing.enabled: true}
    sweep: {training.learning_rate: [1e-5, 5e-5]}
    suites: {minimal: [baseline], sample: all}
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialbook._seeds import check_seed
from trialbook.config._hash import canonical_setting
from trialbook.config._inputs import base_path, is_suite
from trialbook.config._load import ConfigSource, KeyPath, check_reserved, read_config
from trialbook.config._overrides import (
    Override,
    OverrideOp,
    apply_overrides,
    key_candidates,
    parse_key,
    parse_override,
    split_prefix,
)
from trialbook.config._suggest import did_you_mean
from trialbook.config._validate import data_loc
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.config._suite_schema import SuiteModel

__all__ = [
    "Entry",
    "Shortcut",
    "Suite",
    "SweepKey",
    "check_seeds",
    "has_key",
    "parse_suite",
]

_SUITE_KEYS = (
    "suite",
    "description",
    "base",
    "set",
    "seeds",
    "shortcuts",
    "experiments",
    "sweep",
    "suites",
)
_ENTRY_KEYS = ("name", "description", "hypothesis", "tags", "set", "sweep", "seeds")
_SHORTCUT_NAME = re.compile(r"[a-z0-9][a-z0-9\-]*")


@dataclass(frozen=True)
class SweepKey:
    """One key of a ``sweep:`` and the values it takes, in the order written."""

    op: OverrideOp
    path: tuple[str, ...]
    values: tuple[Any, ...]
    where: str


@dataclass(frozen=True)
class Entry:
    """One experiment of a suite."""

    name: str
    index: int | None  # position in `experiments:`; None for the implicit single experiment
    overrides: tuple[Override, ...] = ()
    sweep: tuple[SweepKey, ...] | None = None  # None: the suite's sweep
    seeds: tuple[int, ...] | None = None
    description: str | None = None
    hypothesis: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shortcut:
    """A ``shortcuts:`` item: an option name that sets one config key."""

    op: OverrideOp
    path: tuple[str, ...]
    target: str  # as written, e.g. "training.max_train_samples"
    line: str  # where it is declared, for messages


@dataclass(frozen=True)
class Suite:
    """A parsed suite file (``base`` and what follows it are empty when read without base)."""

    source: ConfigSource
    name: str | None
    shortcuts: Mapping[str, Shortcut]
    base_ref: Any = None  # the `base:` value as written
    base: ConfigSource | None = None
    overrides: tuple[Override, ...] = ()
    seeds: tuple[int, ...] | None = None
    entries: tuple[Entry, ...] = ()
    sweep: tuple[SweepKey, ...] = ()
    suites: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        """The suite file."""
        assert self.source.path is not None
        return self.source.path

    def where(self, key_path: KeyPath | None = None) -> str:
        """``"suite.yaml (line 7)"`` for a message about ``key_path``."""
        return self.source.where(key_path)


def has_key(config: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    """Whether the nested key ``path`` exists in ``config``."""
    node: Any = config
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def parse_suite(
    source: ConfigSource, *, with_base: bool = True, reserved: Collection[str] = ()
) -> Suite:
    """Read a suite file's structure.

    ``with_base`` also loads its base config and checks every key the suite sets, sweeps or
    maps a shortcut to against it. ``reserved``: option names a shortcut may not take.

    Raises:
        ConfigError: the first problem, at its line in the suite file.
    """
    model = _validated(source)
    data = source.data
    shortcuts = _shortcuts(model, source, reserved)
    if not with_base:
        return Suite(source, model.suite, shortcuts)
    if model.base is None:
        raise ConfigError(
            f"Suite {source.name} has no base: config; add `base: base.yaml` (a path relative "
            "to the suite file) or an inline mapping."
        )
    base = _load_base(source, model.base)
    overrides = _overrides(model.set, source.where(("set",)))
    effective = apply_overrides(base.data, overrides, source.where(("set",)))
    seeds = (
        check_seeds(_seed_list(model.seeds), source.where(("seeds",))) if "seeds" in data else None
    )
    sweep = _sweep(model.sweep, ("sweep",), source)
    entries = _entries(model, source, base)
    suites = _named(model, entries, source)
    for option, shortcut in shortcuts.items():
        if shortcut.op == "set" and not has_key(effective, shortcut.path):
            fix = did_you_mean(shortcut.target, key_candidates(effective))
            raise ConfigError(
                f"In {shortcut.line}, the shortcut {option} points at '{shortcut.target}', "
                f"which is not in {base.name}{fix or '.'} Write +{shortcut.target} to add it "
                "as a new key."
            )
    return Suite(
        source, model.suite, shortcuts, model.base, base, overrides, seeds, entries, sweep, suites
    )


def check_seeds(seeds: Sequence[int], where: str, parameter: str | None = None) -> tuple[int, ...]:
    """The seeds as a tuple, refusing an empty list, a repeated seed or one out of range."""
    if not seeds:
        raise ConfigError(
            f"{where}: the list of seeds is empty; give at least one seed.",
            parameter=parameter,
            value=list(seeds),
        )
    seen: set[int] = set()
    for s in seeds:
        check_seed(s, where, parameter=parameter)
        if s in seen:
            raise ConfigError(
                f"{where}: seed {s} is listed twice; list each seed once.",
                parameter=parameter,
                value=list(seeds),
            )
        seen.add(s)
    return tuple(seeds)


# --- the schema's verdict, in one sentence -----------------------------------------------


def _validated(source: ConfigSource) -> SuiteModel:
    from pydantic import ValidationError

    from trialbook.config._suite_schema import SuiteModel

    try:
        return SuiteModel.model_validate(source.data)
    except ValidationError as e:
        errors = e.errors()
        # Unknown top-level keys first, as a reader scans the file's keys first.
        first = min(
            range(len(errors)),
            key=lambda i: (errors[i]["type"] != "extra_forbidden" or len(errors[i]["loc"]) > 1, i),
        )
        raise ConfigError(
            _problem(tuple(errors[first]["loc"]), errors[first]["type"], source)
        ) from None


def _at(data: Any, path: Sequence[Any]) -> Any:
    node = data
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _problem(loc: tuple[Any, ...], kind: str, source: ConfigSource) -> str:
    data = source.data
    if kind == "extra_forbidden":
        parent, key = loc[:-1], loc[-1]
        allowed, what = (_ENTRY_KEYS, "an experiment") if parent else (_SUITE_KEYS, "a suite file")
        fix = did_you_mean(str(key), allowed) or f"; {what} takes {', '.join(allowed)}."
        return f"Unknown key '{key}' in {source.where(data_loc(loc, data))}{fix}"
    prefix: tuple[str | int, ...] = ()
    if loc[0] == "experiments" and len(loc) > 1 and isinstance(loc[1], int):
        prefix = ("experiments", loc[1])
        if len(loc) == 2:
            return (
                f"In {source.where(prefix)}, an experiment must be a name or a mapping with "
                f"name: and set:, not {_at(data, prefix)!r}."
            )
        if loc[2] == "name":
            return (
                f"In {source.where(prefix)}, the experiment has no name; give it one, e.g. "
                "name: baseline."
            )
    key, rest = loc[len(prefix)], loc[len(prefix) + 1 :]
    path = (*prefix, key)
    here, value = source.where(path), _at(data, path)
    if rest and key in ("shortcuts", "sweep", "suites"):
        return _item_problem(key, rest, path, source)
    expected = {
        "suite": "suite: must be a name such as cartography (letters, digits, _, - and .)",
        "description": "description must be text",
        "hypothesis": "hypothesis must be text",
        "tags": "tags must be a list of strings such as [ablation]",
        "shortcuts": (
            "shortcuts: must map option names to config keys, e.g. "
            "{max-train-samples: training.max_train_samples}"
        ),
        "base": "base: must be a config file path or a mapping",
        "set": (
            "set: must be a mapping such as {training.learning_rate: 1e-4} or a list of "
            "overrides such as ['training.learning_rate=1e-4', '~data.cache']"
        ),
        "seeds": "seeds: must be a list of integers such as [42, 43, 44]",
        "sweep": (
            "sweep: must map config keys to lists of values, e.g. "
            "{training.learning_rate: [1e-5, 5e-5]}"
        ),
        "experiments": (
            "experiments: must be a list such as [{name: baseline}, "
            "{name: label_smoothing, set: {...}}]"
        ),
        "suites": (
            "suites: must map suite names to lists of experiment names (or all), e.g. "
            "{minimal: [baseline], sample: all}"
        ),
    }[str(key)]
    return f"In {here}, {expected}, not {value!r}."


def _item_problem(
    key: str | int, rest: tuple[Any, ...], path: tuple[str | int, ...], source: ConfigSource
) -> str:
    name = rest[0]
    line = source.where(data_loc((*path, name), source.data))
    value = _at(source.data, (*path, name))
    bad_key = "[key]" in rest
    if key == "shortcuts":
        return (
            f"In {line}, the shortcut {name} must name a config key such as "
            f"training.max_train_samples, not {value!r}."
        )
    if key == "sweep":
        if bad_key:
            return f"In {line}, the sweep key {name!r} is not a dotted key name."
        bare = split_prefix(str(name))[1]
        return (
            f"In {line}, the sweep over {bare} must be a non-empty list of values, e.g. "
            f"{bare}: [1e-5, 5e-5], not {value!r}."
        )
    if bad_key:
        return f"In {line}, the suite name {name!r} is not a plain name."
    return (
        f"In {line}, the suite {name} must list experiment names, e.g. "
        f"[baseline, label_smoothing], or be all; not {value!r}."
    )


# --- what a type cannot say ---------------------------------------------------------------


def _shortcuts(
    model: SuiteModel, source: ConfigSource, reserved: Collection[str]
) -> dict[str, Shortcut]:
    shortcuts: dict[str, Shortcut] = {}
    for option, target in (model.shortcuts or {}).items():
        line = source.where(("shortcuts", option))
        if not isinstance(option, str) or not _SHORTCUT_NAME.fullmatch(option):
            raise ConfigError(
                f"In {line}, the shortcut name {option!r} is not an option name; use lowercase "
                "words joined by -, such as max-train-samples."
            )
        if option in reserved:
            raise ConfigError(
                f"In {line}, the shortcut {option} has the name of one of the command's own "
                "options; choose another name.",
                parameter="reserved",
                value=option,
            )
        op, bare = split_prefix(target)
        if op == "remove":
            raise ConfigError(
                f"In {line}, the shortcut {option} maps to '{target}'; a shortcut sets a key, "
                "so write the key without ~."
            )
        try:
            path = parse_key(bare, target)
        except ConfigError as e:
            raise ConfigError(f"In {line}, the shortcut {option}: {e}") from None
        shortcuts[option] = Shortcut(op, path, bare, line)
    return shortcuts


def _load_base(source: ConfigSource, ref: str | Mapping[Any, Any]) -> ConfigSource:
    if isinstance(ref, str):
        path = base_path(source.path or Path.cwd(), ref)
        if not path.exists():
            raise ConfigError(
                f"The base config {ref} of suite {source.name} does not exist (looked for "
                f"{path}); base: is relative to the suite file's folder."
            )
        base = read_config(path)
        if is_suite(base):
            raise ConfigError(
                f"The base config {ref} of suite {source.name} is itself a suite file; point "
                "base: at a plain config."
            )
        return base
    lines = {k[1:]: v for k, v in source.lines.items() if k[:1] == ("base",) and k[1:]}
    # Keys of an inline base are reported at their lines in the suite file.
    base = ConfigSource(dict(ref), source.path, lines)
    check_reserved(base)
    return base


def _overrides(value: Mapping[Any, Any] | list[str] | None, where: str) -> tuple[Override, ...]:
    try:
        if isinstance(value, Mapping):
            return tuple(Override.from_item(k, v) for k, v in value.items())
        return tuple(parse_override(v) for v in value or ())
    except ConfigError as e:
        raise ConfigError(f"In {where}: {e}") from None


def _seed_list(seeds: int | list[int]) -> list[int]:
    return [seeds] if isinstance(seeds, int) else seeds


def _sweep(
    value: Mapping[str, list[Any]] | None, key: KeyPath, source: ConfigSource
) -> tuple[SweepKey, ...]:
    keys: list[SweepKey] = []
    for raw_key, values in (value or {}).items():
        line = source.where((*key, raw_key))
        op, bare = split_prefix(raw_key)
        if op == "remove":
            raise ConfigError(
                f"In {line}, the sweep key '{raw_key}' starts with ~; a sweep sets values, "
                "so write the key without ~."
            )
        try:
            path = parse_key(bare, raw_key)
        except ConfigError as e:
            raise ConfigError(f"In {line}, sweep: {e}") from None
        keys.append(SweepKey(op, path, _distinct(values, bare, line), line))
    return tuple(keys)


def _distinct(values: list[Any], key: str, line: str) -> tuple[Any, ...]:
    """The sweep's values, refusing two that are the same setting (``1`` and ``1.0``)."""
    seen: dict[str, Any] = {}
    for value in values:
        text = canonical_setting(value)
        if text in seen:
            raise ConfigError(
                f"In {line}, the sweep over {key} lists {seen[text]!r} and {value!r}, which are "
                "the same setting; list each value once (1 and 1.0 are one setting, true is "
                "not 1)."
            )
        seen[text] = value
    return tuple(values)


def _entries(model: SuiteModel, source: ConfigSource, base: ConfigSource) -> tuple[Entry, ...]:
    if "experiments" not in source.data:
        block = base.data.get("experiment")
        name = (
            (block.get("name") if isinstance(block, Mapping) else None)
            or model.suite
            or (source.path.stem if source.path else "suite")
        )
        return (Entry(str(name), None),)
    if not model.experiments:
        raise ConfigError(
            f"Suite {source.where(('experiments',))} lists no experiments; add at least one, "
            "e.g. experiments: [{name: baseline}], or remove the key to run the base config "
            "alone."
        )
    entries: list[Entry] = []
    first_line: dict[str, int | None] = {}
    for i, item in enumerate(model.experiments):
        line = source.line_of(("experiments", i))
        if item.name in first_line:
            lines = (
                f"both on line {line}"
                if first_line[item.name] == line
                else f"lines {first_line[item.name]} and {line}"
            )
            raise ConfigError(
                f"Suite {source.name} has two experiments named '{item.name}' ({lines}); give "
                "each a unique name."
            )
        first_line[item.name] = line
        here = ("experiments", i)
        entries.append(
            Entry(
                name=item.name,
                index=i,
                overrides=_overrides(item.set, source.where((*here, "set"))),
                sweep=(
                    _sweep(item.sweep, (*here, "sweep"), source)
                    if "sweep" in item.model_fields_set
                    else None
                ),
                seeds=(
                    check_seeds(_seed_list(item.seeds), source.where((*here, "seeds")))
                    if "seeds" in item.model_fields_set
                    else None
                ),
                description=item.description,
                hypothesis=item.hypothesis,
                tags=tuple(item.tags or ()),
            )
        )
    return tuple(entries)


def _named(
    model: SuiteModel, entries: tuple[Entry, ...], source: ConfigSource
) -> dict[str, tuple[str, ...]]:
    names = [e.name for e in entries]
    named: dict[str, tuple[str, ...]] = {}
    for suite_name, members in (model.suites or {}).items():
        if members == "all":
            named[suite_name] = tuple(names)
            continue
        listed = [members] if isinstance(members, str) else members
        for member in listed:
            if member not in names:
                fix = did_you_mean(member, names) or f"; the experiments are {', '.join(names)}."
                raise ConfigError(
                    f"In {source.where(('suites', suite_name))}, the suite {suite_name} lists "
                    f"'{member}', which is not an experiment of {source.name}{fix}"
                )
        named[suite_name] = tuple(listed)
    return named
