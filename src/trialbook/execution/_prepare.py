"""Preparing a plan: every check the Runner makes before it writes anything, made once.

:func:`prepare_plan` checks a plan's seeds, integers, code (entrypoint module and function, or
command) and configs against the entrypoints' schemas (in one separate process), and the
tracking settings every run's process reads from the environment. It returns a
:class:`PreparedPlan` that the Runner's ``preview`` and ``run`` take without checking again,
so each check runs once per ``trialbook run``, whether the plan is previewed, run, or both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trialbook._seeds import check_seed
from trialbook.config._experiment import experiment_block
from trialbook.config._load import int64_message, int64_overflow
from trialbook.config._plan import Plan
from trialbook.errors import ConfigError
from trialbook.execution._code import check_code
from trialbook.execution._preflight import check_schemas
from trialbook.tracking._settings import tracking_settings

__all__ = ["PreparedPlan", "prepare_plan"]


@dataclass(frozen=True)
class PreparedPlan:
    """A plan whose code, configs and settings :meth:`Runner.prepare` checked.

    :meth:`Runner.run` and :meth:`Runner.preview` take it in place of the plan and do not
    check it again (a plain :class:`~trialbook.config.Plan` is checked first), so each check,
    and the schema check's separate process, runs once however the plan is used.
    """

    plan: Plan
    #: The working directory the code was checked from (entrypoint modules resolve there);
    #: a Runner with another ``cwd`` checks the plan again.
    cwd: Path


def prepare_plan(plan: Plan | PreparedPlan, cwd: Path) -> PreparedPlan:
    """Check ``plan`` for running from ``cwd`` (where entrypoint modules are looked up).

    Each distinct code is checked once, and every config with an entrypoint is validated
    against its schema in one separate process (the user's modules are never imported
    here). A plan already prepared from ``cwd`` is returned as it is; one prepared from
    another folder is checked again.

    Raises:
        ConfigError: the first problem, as one sentence. Nothing has been written.
    """
    if isinstance(plan, PreparedPlan):
        if plan.cwd == cwd:
            return plan
        plan = plan.plan
    if not plan.runs:
        raise ConfigError(
            "The plan has no runs; check the suite's experiments and seeds.", parameter="plan"
        )
    # Every run's process reads these variables (TRIALBOOK_FLUSH_INTERVAL, ...): a bad one
    # is refused here, before any run folder exists, not by each run as it starts.
    tracking_settings()
    seen: set[tuple[str | None, str | None, str]] = set()
    typed: list[tuple[str, str, Mapping[str, Any], str | None]] = []
    for planned in plan.runs:
        # plan_runs checked these while planning; a plan built in Python is checked here,
        # before a database or run folder exists.
        where = str(planned.source) if planned.source is not None else "the plan"
        if planned.seed is not None:
            check_seed(planned.seed, f"{where} (run {planned.name})")
        overflow = int64_overflow(planned.config)
        if overflow is not None:
            raise ConfigError(int64_message(f"{where} (run {planned.name})", *overflow))
        block = experiment_block(planned.config)
        if block.entrypoint is not None:
            source = str(planned.source) if planned.source is not None else None
            typed.append((planned.name, block.entrypoint, planned.config, source))
        key = (block.entrypoint, block.command, planned.experiment)
        if key in seen:
            continue
        seen.add(key)
        check_code(planned.config, planned.experiment, cwd, planned.source)
    # Configs against the entrypoints' declared schemas, in a separate process so the
    # user's modules are never imported here.
    check_schemas(typed, cwd)
    return PreparedPlan(plan, cwd)
