"""Planning: turn config files, folders, suite files and configs built in Python into a
:class:`Plan`.

The plan is experiments (file order) × sweep points (grid, keys in the order written) × seeds.
Nothing here runs anything or touches the Store: planning only reads files. Suite files are
read by :mod:`._suite_file`, inputs found by :mod:`._inputs`, changes reported by
:mod:`._changes`.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialbook._seeds import check_seed
from trialbook.config._changes import config_changes, format_value
from trialbook.config._experiment import experiment_block
from trialbook.config._hash import config_hash, group_key, to_plain_config
from trialbook.config._inputs import is_suite, read_inputs
from trialbook.config._load import ConfigSource
from trialbook.config._overrides import (
    Override,
    apply_overrides,
    key_candidates,
    parse_override,
    parse_value,
)
from trialbook.config._plan import Plan, PlannedRun, suite_tag
from trialbook.config._plan import suite_name as tagged_suite_name
from trialbook.config._suggest import closest, did_you_mean
from trialbook.config._suite_file import Suite, SweepKey, check_seeds, has_key, parse_suite
from trialbook.errors import ConfigError

__all__ = ["plan_configs", "plan_runs", "suite_shortcuts"]


def _given_seeds(seeds: Iterable[int] | None) -> tuple[int, ...] | None:
    if seeds is None:
        return None
    values = list(seeds)
    for s in values:
        if isinstance(s, bool) or not isinstance(s, int):
            raise ConfigError(
                f"seeds takes integers such as [42, 43, 44], not {s!r}.",
                parameter="seeds",
                value=s,
            )
    return check_seeds(values, "seeds", parameter="seeds")


def _shortcut_overrides(
    values: Mapping[str, Any] | None, suites: Sequence[Suite]
) -> dict[str, tuple[str, Any]]:
    """Shortcut name -> (raw text, typed value), every name checked against the suites."""
    if not values:
        return {}
    declared = sorted({name for s in suites for name in s.shortcuts})
    typed: dict[str, tuple[str, Any]] = {}
    for given, raw in values.items():
        name = given.lstrip("-").replace("_", "-")
        if name not in declared:
            if declared:
                fix = did_you_mean(name, declared) or f"; the suite declares {', '.join(declared)}."
            else:
                fix = "; no suite given declares shortcuts (see shortcuts: in docs/configs.md)."
            raise ConfigError(
                f"Unknown shortcut '{name}' in shortcut_values{fix}",
                parameter="shortcut_values",
                value=given,
            )
        text = raw if isinstance(raw, str) else json.dumps(raw)
        value = parse_value(raw, f"{name}={raw}") if isinstance(raw, str) else raw
        typed[name] = (text, value)
    return typed


@dataclass
class _Planner:
    given_overrides: tuple[Override, ...]
    given_seeds: tuple[int, ...] | None
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
        rename = [o for o in self.given_overrides if o.path == ("experiment", "name")]
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
        sweep: Sequence[SweepKey] = (),
        seeds: tuple[int, ...] | None = None,
        shortcuts: Sequence[Override] = (),
        block: Mapping[str, Any] | None = None,
    ) -> None:
        """Add the runs of one experiment: sweep points × seeds."""
        for key in sweep:
            if key.op == "set" and not has_key(config, key.path):
                dotted = ".".join(key.path)
                match = closest(dotted, key_candidates(config))
                hint = f"; did you mean '{match}'?" if match else "."
                origin = source.name if source is not None else "the config"
                raise ConfigError(
                    f"In {key.where}, the sweep key '{dotted}' is not in the config of "
                    f"experiment '{name}' ({origin}){hint} Write +{dotted} to sweep a new key."
                )
        points = itertools.product(*(key.values for key in sweep)) if sweep else [()]
        for point in points:
            swept = [
                Override(key.op, key.path, value, f"{'.'.join(key.path)}={format_value(value)}")
                for key, value in zip(sweep, point, strict=True)
            ]
            resolved = apply_overrides(config, swept)
            resolved = apply_overrides(resolved, self.given_overrides, source)
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
                f"{'.'.join(k.path)}={format_value(v)}" for k, v in zip(sweep, point, strict=True)
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
                        changes=config_changes(base, run_config),
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
        if self.given_seeds is not None:
            return self.given_seeds
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
    """Plan every run of config files, folders and suite files (what ``trialbook run`` runs).

    Args:
        paths: config files, suite files and folders (every ``*.yaml``/``*.yml`` inside,
            recursively, sorted; a suite's own base config in the folder is not run on its own).
            Empty with ``suite`` set: ``NAME.yaml`` is looked up in ``./suites/`` and
            ``./configs/suites/``.
        suite: a named suite (``suites:`` in the suite file) to select experiments from.
        seeds: run each planned config once per seed; replaces the seeds of suites and configs.
        overrides: applied to every run, after the suite's own settings (``a.b=1``, ``+a.b=1``,
            ``++a.b=1``, ``~a.b``).
        shortcut_values: shortcut name -> value (text is typed as YAML) for the shortcuts the
            suites declare, e.g. ``{"max-train-samples": "5000"}``.

    Returns:
        The :class:`Plan`: experiments in file order × sweep points × seeds. A run whose config
        (seed included) was already planned is planned once, with a note in ``Plan.notes``.

    Raises:
        ConfigError: any bad input (a missing file, malformed YAML, an unknown key, a sweep or
            override over a key that does not exist, an unknown suite or option, an empty
            suite, duplicate experiment names, bad seeds); nothing is planned then.
    """
    given_overrides = tuple(o if isinstance(o, Override) else parse_override(o) for o in overrides)
    given_seeds = _given_seeds(seeds)
    if given_seeds is not None and any(o.path == ("seed",) for o in given_overrides):
        raise ConfigError(
            "seeds and an override of seed both set the seed; drop the override of seed.",
            parameter="seeds",
            value=list(given_seeds),
        )
    sources = read_inputs(paths, suite)
    named_lookup = not paths and suite is not None
    suites = [parse_suite(s) for s in sources if is_suite(s)]
    if suite is not None and not named_lookup:
        for source in sources:
            if not is_suite(source):
                raise ConfigError(
                    f"suite={suite!r} selects experiments from a suite file, but {source.name} "
                    "is a plain config; leave suite unset or give only suite files.",
                    parameter="suite",
                    value=suite,
                )
    shortcut_values_typed = _shortcut_overrides(shortcut_values, suites)

    planner = _Planner(given_overrides, given_seeds)
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
    suite: Suite,
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
            f"{name}={text}",
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
        _given_seeds(seeds),
    )
    for config in configs:
        data = to_plain_config(config)
        block = experiment_block(data)
        planner.expand(name=block.name or "default", config=data, base=data, source=None, file=None)
    if not planner.runs:
        raise ConfigError("No configs to plan; pass at least one config.")
    return Plan(tuple(planner.runs), {}, None, tuple(planner.notes))


def suite_shortcuts(
    paths: Sequence[str | os.PathLike[str]],
    suite: str | None = None,
    *,
    reserved: Collection[str] = (),
) -> dict[str, str]:
    """The shortcuts the suite files among ``paths`` declare: shortcut name -> config key.

    Cheap (no base configs are read): meant for building a command line's options before the
    plan. With no paths and a ``suite`` name, the named suite file is looked up as in
    :func:`plan_runs`.

    Args:
        paths: as for :func:`plan_runs`.
        suite: as for :func:`plan_runs`.
        reserved: names a shortcut may not take (a command's own options, without ``--``).

    Raises:
        ConfigError: a suite file is malformed, or declares a shortcut named in ``reserved``.
    """
    shortcuts: dict[str, str] = {}
    for source in read_inputs(paths, suite):
        if is_suite(source):
            parsed = parse_suite(source, with_base=False, reserved=reserved)
            for option, shortcut in parsed.shortcuts.items():
                shortcuts.setdefault(option, shortcut.target)
    return shortcuts
