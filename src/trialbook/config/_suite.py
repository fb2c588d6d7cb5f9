"""Suites, sweeps and seeds: turn config files, folders and suite files into a :class:`Plan`.

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

The plan is experiments (file order) × sweep points (grid, keys in the order written) × seeds.
Nothing here runs anything or touches the Store: planning only reads files.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialbook.config._experiment import experiment_block
from trialbook.config._hash import config_hash, flatten_config, group_key, to_plain_config
from trialbook.config._load import ConfigSource, KeyPath, read_config
from trialbook.config._overrides import (
    Override,
    OverrideOp,
    _candidates,
    _parse_key,
    _split_prefix,
    apply_overrides,
    parse_override,
    parse_value,
)
from trialbook.config._plan import MISSING, Plan, PlannedRun, suite_tag
from trialbook.config._plan import suite_name as tagged_suite_name
from trialbook.config._suggest import closest, did_you_mean
from trialbook.errors import ConfigError

__all__ = [
    "SUITE_DIRS",
    "check_seed",
    "format_changes",
    "plan_configs",
    "plan_runs",
    "suite_shortcuts",
]

#: Where ``--suite NAME`` without a file looks for ``NAME.yaml`` (relative to the cwd).
SUITE_DIRS = ("suites", "configs/suites")

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
# `trialbook run`'s own options: a suite shortcut may not shadow them.
_RUN_OPTIONS = frozenset(
    [
        "suite",
        "seeds",
        "set",
        "dry-run",
        "rerun",
        "jobs",
        "timeout",
        "retries",
        "stop-on-error",
        "executor",
        "root",
        "store",
        "help",
        "version",
        "address",
    ]
)
_SUITE_NAME = re.compile(r"[\w\-.]+")
# Keys of the experiment: block that describe a run rather than configure it: not "changes".
_DESCRIPTIVE = ("seed", "experiment.name", "experiment.description", "experiment.hypothesis")


# --- suite files --------------------------------------------------------------------------


@dataclass(frozen=True)
class _SweepKey:
    op: OverrideOp
    path: tuple[str, ...]
    values: tuple[Any, ...]
    where: str


@dataclass(frozen=True)
class _Entry:
    """One experiment of a suite."""

    name: str
    index: int | None  # position in `experiments:`; None for the implicit single experiment
    overrides: tuple[Override, ...] = ()
    sweep: tuple[_SweepKey, ...] | None = None  # None: the suite's sweep
    seeds: tuple[int, ...] | None = None
    description: str | None = None
    hypothesis: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Shortcut:
    op: OverrideOp
    path: tuple[str, ...]
    target: str  # as written, e.g. "training.max_train_samples"
    line: str  # where it is declared, for messages


@dataclass(frozen=True)
class _Suite:
    source: ConfigSource
    name: str | None
    shortcuts: Mapping[str, _Shortcut]
    base_ref: Any = None  # the `base:` value as written
    base: ConfigSource | None = None
    overrides: tuple[Override, ...] = ()
    seeds: tuple[int, ...] | None = None
    entries: tuple[_Entry, ...] = ()
    sweep: tuple[_SweepKey, ...] = ()
    suites: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        assert self.source.path is not None
        return self.source.path

    def where(self, key_path: KeyPath | None = None) -> str:
        return self.source.where(key_path)


def _is_suite(source: ConfigSource) -> bool:
    return "suite" in source.data


def _check_keys(data: Mapping[str, Any], allowed: Sequence[str], what: str, where: Any) -> None:
    for key in data:
        if key not in allowed:
            fix = did_you_mean(str(key), allowed) or f"; {what} takes {', '.join(allowed)}."
            raise ConfigError(f"Unknown key '{key}' in {where(key)}{fix}")


def _base_path(suite_path: Path, ref: str) -> Path:
    p = Path(ref).expanduser()
    return p if p.is_absolute() else suite_path.parent / p


def _parse_suite(source: ConfigSource, *, with_base: bool = True) -> _Suite:
    """Read a suite file's structure; ``with_base`` also loads its base config and checks
    every key the suite sets, sweeps or maps a shortcut to against it."""
    data = source.data

    def where(*key: str | int) -> str:
        return source.where(key)

    _check_keys(data, _SUITE_KEYS, "a suite file", lambda k: where(k))
    name = data.get("suite")
    if name is not None and (not isinstance(name, str) or not _SUITE_NAME.fullmatch(name)):
        raise ConfigError(
            f"In {where('suite')}, suite: must be a name such as cartography (letters, digits, "
            f"_, - and .), not {name!r}."
        )
    shortcuts = _parse_shortcuts(data.get("shortcuts"), where)
    if not with_base:
        return _Suite(source, name, shortcuts)

    if "base" not in data or data["base"] is None:
        raise ConfigError(
            f"Suite {source.name} has no base: config; add `base: base.yaml` (a path relative "
            "to the suite file) or an inline mapping."
        )
    base = _load_base(source, data["base"])
    overrides = _parse_set(data.get("set"), where("set"))
    effective = apply_overrides(base.data, overrides, where("set"))
    seeds = _parse_seeds(data.get("seeds"), where("seeds")) if "seeds" in data else None
    sweep = _parse_sweep(data.get("sweep"), ("sweep",), source) if "sweep" in data else ()
    entries = _parse_entries(data, source, base)
    suites = _parse_named(data.get("suites"), entries, source)
    for option, shortcut in shortcuts.items():
        if shortcut.op == "set" and not _has(effective, shortcut.path):
            fix = did_you_mean(shortcut.target, _candidates(effective))
            raise ConfigError(
                f"In {shortcut.line}, the shortcut {option} points at '{shortcut.target}', "
                f"which is not in {base.name}{fix or '.'} Write +{shortcut.target} to add it "
                "as a new key."
            )
    return _Suite(
        source, name, shortcuts, data["base"], base, overrides, seeds, entries, sweep, suites
    )


def _load_base(source: ConfigSource, ref: Any) -> ConfigSource:
    if isinstance(ref, str):
        path = _base_path(source.path or Path.cwd(), ref)
        if not path.exists():
            raise ConfigError(
                f"The base config {ref} of suite {source.name} does not exist (looked for "
                f"{path}); base: is relative to the suite file's folder."
            )
        base = read_config(path)
        if _is_suite(base):
            raise ConfigError(
                f"The base config {ref} of suite {source.name} is itself a suite file; point "
                "base: at a plain config."
            )
        return base
    if isinstance(ref, Mapping):
        from trialbook.config._load import _check_reserved

        lines = {k[1:]: v for k, v in source.lines.items() if k[:1] == ("base",) and k[1:]}
        # Keys of an inline base are reported at their lines in the suite file.
        base = ConfigSource(dict(ref), source.path, lines)
        _check_reserved(base)
        return base
    raise ConfigError(
        f"In {source.where(('base',))}, base: must be a config file path or a mapping, not {ref!r}."
    )


def _parse_shortcuts(value: Any, where: Any) -> dict[str, _Shortcut]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"In {where('shortcuts')}, shortcuts: must map option names to config keys, e.g. "
            "{max-train-samples: training.max_train_samples}."
        )
    shortcuts: dict[str, _Shortcut] = {}
    for option, target in value.items():
        line = where("shortcuts", option)
        if not isinstance(option, str) or not _SHORTCUT_NAME.fullmatch(option):
            raise ConfigError(
                f"In {line}, the shortcut name {option!r} is not an option name; use lowercase "
                "words joined by -, such as max-train-samples."
            )
        if option in _RUN_OPTIONS:
            raise ConfigError(
                f"In {line}, the shortcut {option} has the name of an option of trialbook run "
                "itself; choose another name."
            )
        if not isinstance(target, str):
            raise ConfigError(
                f"In {line}, the shortcut {option} must name a config key such as "
                f"training.max_train_samples, not {target!r}."
            )
        op, bare = _split_prefix(target)
        if op == "remove":
            raise ConfigError(
                f"In {line}, the shortcut {option} maps to '{target}'; a shortcut sets a key, "
                "so write the key without ~."
            )
        try:
            path = _parse_key(bare, target)
        except ConfigError as e:
            raise ConfigError(f"In {line}, the shortcut {option}: {e}") from None
        shortcuts[option] = _Shortcut(op, path, bare, line)
    return shortcuts


def _parse_set(value: Any, where: str) -> tuple[Override, ...]:
    if value is None:
        return ()
    try:
        if isinstance(value, Mapping):
            return tuple(Override.from_item(k, v) for k, v in value.items())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(parse_override(v) for v in value)
    except ConfigError as e:
        raise ConfigError(f"In {where}: {e}") from None
    raise ConfigError(
        f"In {where}, set: must be a mapping such as {{training.learning_rate: 1e-4}} or a list "
        f"of overrides such as ['training.learning_rate=1e-4', '~data.cache'], not {value!r}."
    )


def _parse_seeds(value: Any, where: str) -> tuple[int, ...]:
    seeds = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(seeds, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in seeds
    ):
        raise ConfigError(
            f"In {where}, seeds: must be a list of integers such as [42, 43, 44], not {value!r}."
        )
    return _check_seeds(seeds, where)


def check_seed(seed: int, where: str) -> None:
    """A seed every generator accepts, checked when planning (before any run folder exists)."""
    from trialbook.tracking._seed import _SEED_LIMIT

    if not 0 <= seed < _SEED_LIMIT:
        shown = str(seed) if seed.bit_length() <= 256 else f"of {seed.bit_length()} bits"
        raise ConfigError(
            f"{where}: seed {shown} is out of range; use an integer from 0 to "
            f"{_SEED_LIMIT - 1} (the range NumPy accepts)."
        )


def _check_seeds(seeds: Sequence[int], where: str) -> tuple[int, ...]:
    if not seeds:
        raise ConfigError(f"{where}: the list of seeds is empty; give at least one seed.")
    seen: set[int] = set()
    for s in seeds:
        check_seed(s, where)
        if s in seen:
            raise ConfigError(f"{where}: seed {s} is listed twice; list each seed once.")
        seen.add(s)
    return tuple(seeds)


def _parse_sweep(value: Any, key: KeyPath, source: ConfigSource) -> tuple[_SweepKey, ...]:
    where = source.where(key)
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"In {where}, sweep: must map config keys to lists of values, e.g. "
            "{training.learning_rate: [1e-5, 5e-5]}."
        )
    keys: list[_SweepKey] = []
    for raw_key, values in value.items():
        line = source.where((*key, raw_key))
        if not isinstance(raw_key, str):
            raise ConfigError(f"In {line}, the sweep key {raw_key!r} is not a dotted key name.")
        op, bare = _split_prefix(raw_key)
        if op == "remove":
            raise ConfigError(
                f"In {line}, the sweep key '{raw_key}' starts with ~; a sweep sets values, "
                "so write the key without ~."
            )
        try:
            path = _parse_key(bare, raw_key)
        except ConfigError as e:
            raise ConfigError(f"In {line}, sweep: {e}") from None
        if not isinstance(values, list) or not values:
            raise ConfigError(
                f"In {line}, the sweep over {bare} must be a non-empty list of values, e.g. "
                f"{bare}: [1e-5, 5e-5], not {values!r}."
            )
        keys.append(_SweepKey(op, path, tuple(values), line))
    return tuple(keys)


def _parse_entries(
    data: Mapping[str, Any], source: ConfigSource, base: ConfigSource
) -> tuple[_Entry, ...]:
    if "experiments" not in data:
        block = base.data.get("experiment")
        name = (
            (block.get("name") if isinstance(block, Mapping) else None)
            or data.get("suite")
            or (source.path.stem if source.path else "suite")
        )
        return (_Entry(str(name), None),)
    raw = data["experiments"]
    where = source.where(("experiments",))
    if raw is None or raw == []:
        raise ConfigError(
            f"Suite {where} lists no experiments; add at least one, e.g. experiments: "
            "[{name: baseline}], or remove the key to run the base config alone."
        )
    if not isinstance(raw, list):
        raise ConfigError(
            f"In {where}, experiments: must be a list such as [{{name: baseline}}, "
            f"{{name: label_smoothing, set: {{...}}}}], not {raw!r}."
        )
    entries: list[_Entry] = []
    first_line: dict[str, int | None] = {}
    for i, item in enumerate(raw):
        here = source.where(("experiments", i))
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, Mapping):
            raise ConfigError(
                f"In {here}, an experiment must be a name or a mapping with name: and set:, "
                f"not {item!r}."
            )
        _check_keys(
            item, _ENTRY_KEYS, "an experiment", lambda k, i=i: source.where(("experiments", i, k))
        )
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"In {here}, the experiment has no name; give it one, e.g. name: baseline."
            )
        line = source.line_of(("experiments", i))
        if name in first_line:
            lines = (
                f"both on line {line}"
                if first_line[name] == line
                else f"lines {first_line[name]} and {line}"
            )
            raise ConfigError(
                f"Suite {source.name} has two experiments named '{name}' ({lines}); give each "
                "a unique name."
            )
        first_line[name] = line
        for text_key in ("description", "hypothesis"):
            if item.get(text_key) is not None and not isinstance(item[text_key], str):
                raise ConfigError(
                    f"In {source.where(('experiments', i, text_key))}, {text_key} must be text."
                )
        tags = item.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ConfigError(
                f"In {source.where(('experiments', i, 'tags'))}, tags must be a list of "
                f"strings such as [ablation], not {tags!r}."
            )
        entries.append(
            _Entry(
                name=name,
                index=i,
                overrides=_parse_set(item.get("set"), source.where(("experiments", i, "set"))),
                sweep=(
                    _parse_sweep(item["sweep"], ("experiments", i, "sweep"), source)
                    if "sweep" in item
                    else None
                ),
                seeds=(
                    _parse_seeds(item["seeds"], source.where(("experiments", i, "seeds")))
                    if "seeds" in item
                    else None
                ),
                description=item.get("description"),
                hypothesis=item.get("hypothesis"),
                tags=tuple(tags),
            )
        )
    return tuple(entries)


def _parse_named(
    value: Any, entries: tuple[_Entry, ...], source: ConfigSource
) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    where = source.where(("suites",))
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"In {where}, suites: must map suite names to lists of experiment names (or "
            "all), e.g. {minimal: [baseline], sample: all}."
        )
    names = [e.name for e in entries]
    named: dict[str, tuple[str, ...]] = {}
    for suite_name, members in value.items():
        line = source.where(("suites", suite_name))
        if not isinstance(suite_name, str) or not _SUITE_NAME.fullmatch(suite_name):
            raise ConfigError(f"In {line}, the suite name {suite_name!r} is not a plain name.")
        if members == "all":
            named[suite_name] = tuple(names)
            continue
        if isinstance(members, str):
            members = [members]
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ConfigError(
                f"In {line}, the suite {suite_name} must list experiment names, e.g. "
                f"[baseline, label_smoothing], or be all; not {members!r}."
            )
        for member in members:
            if member not in names:
                fix = did_you_mean(member, names) or f"; the experiments are {', '.join(names)}."
                raise ConfigError(
                    f"In {line}, the suite {suite_name} lists '{member}', which is not an "
                    f"experiment of {source.name}{fix}"
                )
        named[suite_name] = tuple(members)
    return named


def _has(config: Mapping[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = config
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


# --- inputs -------------------------------------------------------------------------------


def _find_named_suite(name: str, cwd: Path) -> Path:
    if not _SUITE_NAME.fullmatch(name):
        raise ConfigError(
            f"--suite {name!r} is not a suite name; give a name such as minimal, or the suite "
            "file itself as an argument."
        )
    for folder in SUITE_DIRS:
        for ext in (".yaml", ".yml"):
            candidate = Path(folder) / f"{name}{ext}"
            if (cwd / candidate).is_file():
                return cwd / candidate if cwd != Path.cwd() else candidate
    looked = " and ".join(f"./{folder}/" for folder in SUITE_DIRS)
    raise ConfigError(
        f"No suite named '{name}': there is no {name}.yaml in {looked}; give the suite file "
        f"too, e.g. `trialbook run configs/suite.yaml --suite {name}`."
    )


def _yaml_files(folder: Path) -> list[Path]:
    files = [
        p
        for p in folder.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    ]
    return sorted(files)


def _read_inputs(paths: Sequence[str | os.PathLike[str]], suite: str | None) -> list[ConfigSource]:
    if not paths:
        if suite is None:
            raise ConfigError(
                "Nothing to run: give a config file, a folder of configs or a suite file, "
                "e.g. `trialbook run configs/exp.yaml`, or a named suite with --suite NAME."
            )
        return [read_config(_find_named_suite(suite, Path.cwd()))]
    sources: list[ConfigSource] = []
    for raw in paths:
        path = Path(raw)
        if not path.is_dir():
            sources.append(read_config(path))
            continue
        files = _yaml_files(path)
        if not files:
            raise ConfigError(
                f"The folder {path} holds no .yaml or .yml files; give a folder of configs or "
                "the config files themselves."
            )
        loaded = [read_config(f) for f in files]
        # A folder holding a suite and its base config runs the suite, not the base twice.
        bases: set[Path] = set()
        for source in loaded:
            ref = source.data.get("base") if _is_suite(source) else None
            if isinstance(ref, str) and source.path is not None:
                bases.add(_base_path(source.path, ref).resolve())
        sources.extend(s for s in loaded if s.path is None or s.path.resolve() not in bases)
    return sources


# --- planning -----------------------------------------------------------------------------


def _cli_seeds(seeds: Iterable[int] | None) -> tuple[int, ...] | None:
    if seeds is None:
        return None
    values = list(seeds)
    for s in values:
        if isinstance(s, bool) or not isinstance(s, int):
            raise ConfigError(f"--seeds takes integers such as 42 43 44, not {s!r}.")
    return _check_seeds(values, "--seeds")


def _shortcut_overrides(
    values: Mapping[str, Any] | None, suites: Sequence[_Suite]
) -> dict[str, tuple[str, Any]]:
    """Option name -> (raw text, typed value), every name checked against the suites."""
    if not values:
        return {}
    declared = sorted({name for s in suites for name in s.shortcuts})
    typed: dict[str, tuple[str, Any]] = {}
    for given, raw in values.items():
        name = given.lstrip("-").replace("_", "-")
        if name not in declared:
            if declared:
                listing = ", ".join(f"--{d}" for d in declared)
                hint = did_you_mean(f"--{name}", [f"--{d}" for d in declared])
                fix = hint or f"; the suite declares {listing}."
            else:
                fix = "; no suite given declares shortcuts (see shortcuts: in docs/configs.md)."
            raise ConfigError(f"Unknown option --{name}{fix}")
        text = raw if isinstance(raw, str) else json.dumps(raw)
        value = parse_value(raw, f"--{name} {raw}") if isinstance(raw, str) else raw
        typed[name] = (text, value)
    return typed


@dataclass
class _Planner:
    cli_overrides: tuple[Override, ...]
    cli_seeds: tuple[int, ...] | None
    runs: list[PlannedRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _seen: dict[str, PlannedRun] = field(default_factory=dict)

    def add(self, run: PlannedRun) -> None:
        first = self._seen.get(run.config_hash)
        if first is not None:
            seed = f" seed={run.seed}" if run.seed is not None else ""
            self.notes.append(
                f"{run.name}{seed} from {run.source} is the same config as {first.name}{seed} "
                f"from {first.source}; it is planned once."
            )
            return
        self._seen[run.config_hash] = run
        self.runs.append(run)

    def _renamed(self, name: str, resolved: Mapping[str, Any], suite: Path | None) -> str:
        """The experiment's name after an ``experiment.name=...`` override, if there is one."""
        rename = [o for o in self.cli_overrides if o.path == ("experiment", "name")]
        if not rename:
            return name
        if suite is not None:
            raise ConfigError(
                f"'{rename[-1].text}' would give every experiment of the suite {suite} one name; "
                "rename experiments in the suite's experiments: list instead."
            )
        new = (resolved.get("experiment") or {}).get("name")
        return new if isinstance(new, str) and new else name

    def expand(
        self,
        *,
        name: str,
        config: Mapping[str, Any],
        base: Mapping[str, Any],
        source: ConfigSource | None,
        file: Path | None,
        sweep: Sequence[_SweepKey] = (),
        seeds: tuple[int, ...] | None = None,
        shortcuts: Sequence[Override] = (),
        block: Mapping[str, Any] | None = None,
    ) -> None:
        """Add the runs of one experiment: sweep points × seeds."""
        for key in sweep:
            if key.op == "set" and not _has(config, key.path):
                dotted = ".".join(key.path)
                match = closest(dotted, _candidates(config))
                hint = f"; did you mean '{match}'?" if match else "."
                origin = source.name if source is not None else "the config"
                raise ConfigError(
                    f"In {key.where}, the sweep key '{dotted}' is not in the config of "
                    f"experiment '{name}' ({origin}){hint} Write +{dotted} to sweep a new key."
                )
        points = itertools.product(*(key.values for key in sweep)) if sweep else [()]
        for point in points:
            swept = [
                Override(key.op, key.path, value, f"{'.'.join(key.path)}={_show(value)}")
                for key, value in zip(sweep, point, strict=True)
            ]
            resolved = apply_overrides(config, swept)
            resolved = apply_overrides(resolved, self.cli_overrides, source)
            resolved = apply_overrides(resolved, shortcuts, source)
            name = self._renamed(name, resolved, file if block is not None else None)
            experiment = {**(resolved.get("experiment") or {}), **(block or {})}
            experiment.pop("name", None)
            # The name first, and the block first in a config that had none: config.yaml reads
            # top-down.
            named = {"name": name, **experiment}
            if "experiment" in resolved:
                resolved["experiment"] = named
            else:
                resolved = {"experiment": named, **resolved}
            experiment_block(resolved, source)
            label = ",".join(
                f"{'.'.join(k.path)}={_show(v)}" for k, v in zip(sweep, point, strict=True)
            )
            display = f"{name}[{label}]" if label else name
            for seed in self._seeds_for(resolved, seeds, display, source):
                run_config = copy.deepcopy(resolved)
                if seed is not None:
                    run_config["seed"] = seed
                self.add(
                    PlannedRun(
                        name=display,
                        experiment=name,
                        config=run_config,
                        seed=seed,
                        config_hash=config_hash(run_config),
                        group_key=group_key(run_config),
                        changes=_changes(base, run_config),
                        source=file,
                    )
                )

    def _seeds_for(
        self,
        config: Mapping[str, Any],
        seeds: tuple[int, ...] | None,
        name: str,
        source: ConfigSource | None,
    ) -> Sequence[int | None]:
        if self.cli_seeds is not None:
            return self.cli_seeds
        if seeds is not None:
            return seeds
        seed = config.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(
                f"The seed of {name} is {seed!r}; a seed must be an integer such as 42."
            )
        if seed is not None:
            check_seed(seed, source.where("seed") if source is not None else f"{name}'s config")
        return [seed]


def plan_runs(
    paths: Sequence[str | os.PathLike[str]],
    *,
    suite: str | None = None,
    seeds: Iterable[int] | None = None,
    overrides: Iterable[str | Override] = (),
    shortcut_values: Mapping[str, Any] | None = None,
) -> Plan:
    """Plan every run of ``trialbook run PATH... [--suite NAME] [--seeds ...] [overrides]``.

    Args:
        paths: config files, suite files and folders (every ``*.yaml``/``*.yml`` inside,
            recursively, sorted; a suite's own base config in the folder is not run on its own).
            Empty with ``suite`` set: ``NAME.yaml`` is looked up in ``./suites/`` and
            ``./configs/suites/``.
        suite: a named suite (``suites:`` in the suite file) to select experiments from.
        seeds: run each planned config once per seed; replaces the seeds of suites and configs.
        overrides: applied to every run, after the suite's own settings (``a.b=1``, ``+a.b=1``,
            ``++a.b=1``, ``~a.b``).
        shortcut_values: option name -> value (text is typed as YAML) for the shortcuts the
            suites declare, e.g. ``{"max-train-samples": "5000"}``.

    Returns:
        The :class:`Plan`: experiments in file order × sweep points × seeds. A run whose config
        (seed included) was already planned is planned once, with a note in ``Plan.notes``.

    Raises:
        ConfigError: any bad input (a missing file, malformed YAML, an unknown key, a sweep or
            override over a key that does not exist, an unknown suite or option, an empty
            suite, duplicate experiment names, bad seeds); nothing is planned then.
    """
    cli_overrides = tuple(o if isinstance(o, Override) else parse_override(o) for o in overrides)
    cli_seeds = _cli_seeds(seeds)
    if cli_seeds is not None and any(o.path == ("seed",) for o in cli_overrides):
        raise ConfigError("--seeds and an override of seed both set the seed; use --seeds alone.")
    sources = _read_inputs(paths, suite)
    named_lookup = not paths and suite is not None
    suites = [_parse_suite(s) for s in sources if _is_suite(s)]
    if suite is not None and not named_lookup:
        for source in sources:
            if not _is_suite(source):
                raise ConfigError(
                    f"--suite {suite} selects experiments from a suite file, but {source.name} "
                    "is a plain config; drop --suite or give only suite files."
                )
    shortcut_values_typed = _shortcut_overrides(shortcut_values, suites)

    planner = _Planner(cli_overrides, cli_seeds)
    by_source = {id(s.source): s for s in suites}
    for source in sources:
        parsed = by_source.get(id(source))
        if parsed is None:
            _plan_config(planner, source)
        else:
            _plan_suite(planner, parsed, suite, named_lookup, shortcut_values_typed)
    if not planner.runs:  # pragma: no cover - every empty case raises earlier
        raise ConfigError("The plan is empty: no experiment was selected.")
    shortcuts: dict[str, str] = {}
    for parsed_suite in suites:
        for option, shortcut in parsed_suite.shortcuts.items():
            shortcuts.setdefault(option, shortcut.target)
    return Plan(tuple(planner.runs), shortcuts, suite, tuple(planner.notes))


def _plan_config(planner: _Planner, source: ConfigSource) -> None:
    data = source.data
    if isinstance(data.get("experiments"), list) and "experiment" not in data:
        raise ConfigError(
            f"{source.name} has experiments: but no suite: key, so it is read as a plain "
            "config; add `suite: NAME` at the top to make it a suite file."
        )
    block = experiment_block(data, source)
    name = block.name or (source.path.stem if source.path else "default")
    planner.expand(name=name, config=data, base=data, source=source, file=source.path)


def _plan_suite(
    planner: _Planner,
    suite: _Suite,
    selected: str | None,
    named_lookup: bool,
    shortcut_values: Mapping[str, tuple[str, Any]],
) -> None:
    assert suite.base is not None
    entries = suite.entries
    if selected is not None:
        if selected in suite.suites:
            members = set(suite.suites[selected])
            entries = tuple(e for e in entries if e.name in members)
            if not entries:
                raise ConfigError(
                    f"The suite {selected} in {suite.where(('suites', selected))} selects no "
                    "experiments; list at least one experiment name, or all."
                )
        elif not named_lookup:
            known = ", ".join(suite.suites) if suite.suites else ""
            fix = (
                (did_you_mean(selected, suite.suites) or f"; its suites are {known}.")
                if known
                else "; it defines none (add suites: {minimal: [baseline], sample: all})."
            )
            raise ConfigError(f"Unknown suite '{selected}' in {suite.path}{fix}")
    base = apply_overrides(suite.base.data, suite.overrides, suite.where(("set",)))
    tag = suite_tag(tagged_suite_name(suite.name, suite.source.path))
    shortcuts = [
        Override(
            suite.shortcuts[name].op,
            suite.shortcuts[name].path,
            value,
            f"--{name} {text}",
        )
        for name, (text, value) in shortcut_values.items()
        if name in suite.shortcuts
    ]
    for entry in entries:
        here = (
            suite.where(("experiments", entry.index, "set"))
            if entry.index is not None
            else suite.where()
        )
        config = apply_overrides(base, entry.overrides, here)
        block: dict[str, Any] = {}
        if entry.description is not None:
            block["description"] = entry.description
        if entry.hypothesis is not None:
            block["hypothesis"] = entry.hypothesis
        # Every run records its suite (a descriptive tag: the config hash ignores it), so that
        # `ls --suite` and `suite/experiment` references find it, and a reproduction from the
        # run's config.yaml keeps it.
        current = config.get("experiment", {}).get("tags") or []
        block["tags"] = list(dict.fromkeys([*current, *entry.tags, tag]))
        planner.expand(
            name=entry.name,
            config=config,
            base=base,
            source=suite.base,
            file=suite.path,
            sweep=entry.sweep if entry.sweep is not None else suite.sweep,
            seeds=entry.seeds if entry.seeds is not None else suite.seeds,
            shortcuts=shortcuts,
            block=block,
        )


def plan_configs(
    configs: Iterable[Any],
    *,
    seeds: Iterable[int] | None = None,
    overrides: Iterable[str | Override] = (),
) -> Plan:
    """Plan runs for configs built in Python (mappings, dataclasses or pydantic models).

    Each config's experiment name is its ``experiment.name`` (``"default"`` when absent);
    seeds and overrides work as in :func:`plan_runs`.
    """
    planner = _Planner(
        tuple(o if isinstance(o, Override) else parse_override(o) for o in overrides),
        _cli_seeds(seeds),
    )
    for config in configs:
        data = to_plain_config(config)
        block = experiment_block(data)
        planner.expand(name=block.name or "default", config=data, base=data, source=None, file=None)
    if not planner.runs:
        raise ConfigError("No configs to plan; pass at least one config.")
    return Plan(tuple(planner.runs), {}, None, tuple(planner.notes))


def suite_shortcuts(
    paths: Sequence[str | os.PathLike[str]], suite: str | None = None
) -> dict[str, str]:
    """The shortcut options the suite files among ``paths`` declare: option -> config key.

    Cheap (no base configs are read): meant for building ``trialbook run SUITE --help``.
    With no paths and a ``suite`` name, the named suite file is looked up as in
    :func:`plan_runs`.
    """
    shortcuts: dict[str, str] = {}
    for source in _read_inputs(paths, suite):
        if _is_suite(source):
            for option, shortcut in _parse_suite(source, with_base=False).shortcuts.items():
                shortcuts.setdefault(option, shortcut.target)
    return shortcuts


# --- changes ------------------------------------------------------------------------------


def _changes(base: Mapping[str, Any], config: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    before = flatten_config(base)
    after = flatten_config(config)
    changes: dict[str, tuple[Any, Any]] = {}
    for key in [*before, *(k for k in after if k not in before)]:
        if key in _DESCRIPTIVE or key == "experiment.tags":
            continue
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if old is MISSING or new is MISSING or _key(old) != _key(new):
            changes[key] = (old, new)
    return changes


def _key(value: Any) -> str:
    # 1 and 1.0, or True and 1, are equal in Python but different settings.
    return json.dumps(value, sort_keys=True, default=repr)


def _show(value: Any, limit: int = 40) -> str:
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
            parts.append(f"+{key}: {_show(new)}")
        elif new is MISSING:
            parts.append(f"~{key}")
        else:
            parts.append(f"{key}: {_show(old)} -> {_show(new)}")
    return ", ".join(parts)
