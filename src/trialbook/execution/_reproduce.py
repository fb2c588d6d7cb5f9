"""``trialbook reproduce RUN``: run a run again from its own folder and compare the numbers.

The new run is planned from the run folder's config.yaml (seed included), so it has the same
config hash; it is tagged ``reproduces:<id>``. With a check, the final metrics of the two
summary.json files are compared within a relative tolerance, and the differences between the
two meta.json files (git commit and dirty flag, Python, packages, device) are listed as
possible explanations.
"""

from __future__ import annotations

import fnmatch
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trialbook._workspace import Workspace
from trialbook.config._experiment import experiment_block
from trialbook.config._hash import config_hash, group_key
from trialbook.config._load import load_config
from trialbook.config._plan import Plan, PlannedRun
from trialbook.errors import ConfigError
from trialbook.execution._runner import Runner, RunOutcome
from trialbook.store._records import RunRecord
from trialbook.tracking._folder import RunFolder

__all__ = [
    "DEFAULT_IGNORE",
    "MetricCheck",
    "ReproduceResult",
    "compare_metrics",
    "environment_differences",
    "reproduce",
]

#: Metrics never compared: they describe the machine, not the result.
DEFAULT_IGNORE = ("system/*",)


@dataclass(frozen=True)
class MetricCheck:
    """One final metric of the original run next to the reproduction's."""

    key: str
    original: float
    reproduced: float | None
    match: bool

    @property
    def relative_difference(self) -> float | None:
        if self.reproduced is None:
            return None
        a, b = self.original, self.reproduced
        if a == b or (math.isnan(a) and math.isnan(b)):
            return 0.0
        scale = max(abs(a), abs(b))
        return math.inf if scale == 0 or math.isnan(scale) else abs(a - b) / scale


@dataclass(frozen=True)
class ReproduceResult:
    """The original run, the reproduction's outcome and, with a check, the comparison."""

    original: RunRecord
    outcome: RunOutcome
    checks: tuple[MetricCheck, ...] = ()
    differences: tuple[str, ...] = ()
    checked: bool = False
    interrupted: bool = False

    @property
    def mismatches(self) -> list[MetricCheck]:
        return [c for c in self.checks if not c.match]

    @property
    def exit_code(self) -> int:
        """0: reproduced (and, with a check, every metric matched); 1: otherwise; 130: Ctrl-C."""
        if self.interrupted:
            return 130
        if self.outcome.status != "completed" or self.mismatches:
            return 1
        return 0


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if value in ("NaN", "Infinity", "-Infinity"):
        return float(value.replace("Infinity", "inf"))
    return None


def compare_metrics(
    original: Mapping[str, Any],
    reproduced: Mapping[str, Any],
    tolerance: float,
    ignore: Sequence[str] = DEFAULT_IGNORE,
) -> list[MetricCheck]:
    """Compare final metrics (summary.json ``metrics``) key by key.

    Two values match when they are equal, both NaN, or differ by at most ``tolerance`` times
    the larger magnitude. A metric missing from the reproduction is a mismatch; one only the
    reproduction has is not compared.
    """
    checks = []
    for key in sorted(original):
        if any(fnmatch.fnmatchcase(key, pattern) for pattern in ignore):
            continue
        a = _number(original[key])
        if a is None:
            continue
        b = _number(reproduced.get(key))
        if b is None:
            checks.append(MetricCheck(key, a, None, False))
            continue
        same = (math.isnan(a) and math.isnan(b)) or math.isclose(
            a, b, rel_tol=tolerance, abs_tol=1e-12
        )
        checks.append(MetricCheck(key, a, b, same))
    return checks


def environment_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """What changed between two meta.json files that could change the numbers."""
    lines: list[str] = []
    git_a, git_b = before.get("git") or {}, after.get("git") or {}
    if not git_a.get("commit") or not git_b.get("commit"):
        # Nothing to compare is not the same as nothing changed.
        lines.append(
            "git: no commit recorded for "
            + ("either run" if not git_a.get("commit") and not git_b.get("commit") else "one run")
            + " (not run from a git repository), so code changes cannot be ruled out"
        )
    elif git_a.get("commit") != git_b.get("commit"):
        lines.append(f"git commit: {git_a.get('commit')} -> {git_b.get('commit')}")
    if git_a.get("dirty") != git_b.get("dirty") or git_b.get("dirty"):
        lines.append(
            f"git work tree dirty: {git_a.get('dirty')} -> {git_b.get('dirty')}"
            " (see diff.patch in the run folders)"
        )
    env_a, env_b = before.get("environment") or {}, after.get("environment") or {}
    py_a = (env_a.get("python") or {}).get("version")
    py_b = (env_b.get("python") or {}).get("version")
    if py_a != py_b:
        lines.append(f"Python: {py_a} -> {py_b}")
    seed_a = (env_a.get("python") or {}).get("hash_seed")
    seed_b = (env_b.get("python") or {}).get("hash_seed")
    if seed_a != seed_b:
        lines.append(f"PYTHONHASHSEED (set order of strings): {seed_a} -> {seed_b}")
    for key in ("device", "host"):
        if before.get(key) != after.get(key):
            lines.append(f"{key}: {before.get(key)} -> {after.get(key)}")
    pkgs_a, pkgs_b = env_a.get("packages") or {}, env_b.get("packages") or {}
    if not pkgs_a or not pkgs_b:
        lines.append("installed packages: not recorded for both runs, so not compared")
        return lines
    for name in sorted(set(pkgs_a) | set(pkgs_b), key=str.lower):
        old, new = pkgs_a.get(name), pkgs_b.get(name)
        if old != new:
            lines.append(f"package {name}: {old or 'not installed'} -> {new or 'not installed'}")
    return lines


def _hash_seed_env(meta: Mapping[str, Any], seed: int | None) -> dict[str, str]:
    """PYTHONHASHSEED for a repeat: the one the run hashed with, unless set for this command.

    meta.json records it (``environment.python.hash_seed``); runs made before it was recorded
    were started by a Runner that gave each run its seed.
    """
    if os.environ.get("PYTHONHASHSEED"):
        return {}
    python = (meta.get("environment") or {}).get("python") or {}
    if "hash_seed" in python:
        recorded = python["hash_seed"]
        return {"PYTHONHASHSEED": str(recorded)} if recorded else {}
    return {"PYTHONHASHSEED": str(seed)} if seed is not None else {}


def reproduce(
    run: str,
    *,
    root: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    check: bool = False,
    tolerance: float = 1e-6,
    ignore: Sequence[str] = (),
    timeout: float | None = None,
    progress: Any = "auto",
) -> ReproduceResult:
    """Run ``run`` (an id, id prefix, short id or name) again from its folder's config.yaml.

    Raises:
        RunNotFoundError: no such run. ConfigError: the run folder has no config.yaml, or its
        config names no entrypoint or command (a run tracked by a script), or a bad option.
    """
    if not (isinstance(tolerance, int | float) and tolerance >= 0):
        raise ConfigError(
            f"tolerance must be zero or a positive number, got {tolerance!r}.",
            parameter="tolerance",
            value=tolerance,
        )
    workspace = Workspace.resolve(root, store_url)
    with workspace.open_store() as db:
        original = db.get_run(run)
    folder = Path(original.folder or "")
    config_path = folder / "config.yaml"
    if not original.folder or not config_path.is_file():
        raise ConfigError(
            f"Run {original.id} has no config.yaml in {folder}; it cannot be reproduced."
        )
    config = load_config(config_path)
    block = experiment_block(config)
    if not block.entrypoint and not block.command:
        raise ConfigError(
            f"Run {original.id} was tracked by its own script, not started by the Runner: "
            f"{config_path} names no experiment.entrypoint or experiment.command; run your "
            f"script with --config {config_path}, or add one of them to a copy of the config."
        )
    planned = PlannedRun(
        name=original.name,
        experiment=original.experiment,
        config=config,
        seed=original.seed,
        config_hash=config_hash(config),
        group_key=group_key(config),
        source=config_path,
    )
    runner = Runner(
        root=workspace.root,
        store_url=workspace.store_url,
        env=_hash_seed_env(RunFolder(folder).read_meta() or {}, original.seed),
        rerun=True,
        timeout=timeout,
        progress=progress,
        tags=(f"reproduces:{original.id}",),
    )
    suite = runner.run(Plan((planned,)))
    outcome = suite.outcomes[0]
    if not check or outcome.status != "completed" or outcome.run_id is None:
        return ReproduceResult(original, outcome, checked=check, interrupted=suite.interrupted)
    with workspace.open_store() as db:
        new_folder = Path(db.get_run(outcome.run_id).folder or "")
    before = (RunFolder(folder).read_summary() or {}).get("metrics") or {}
    after = (RunFolder(new_folder).read_summary() or {}).get("metrics") or {}
    checks = compare_metrics(before, after, tolerance, (*DEFAULT_IGNORE, *ignore))
    differences: list[str] = []
    if any(not c.match for c in checks):
        differences = environment_differences(
            RunFolder(folder).read_meta() or {}, RunFolder(new_folder).read_meta() or {}
        )
    return ReproduceResult(original, outcome, tuple(checks), tuple(differences), checked=True)
