"""Run experiments built in Python (``ExperimentConfig`` objects, dicts or config files)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from trialbook.config import load_config, plan_configs
from trialbook.errors import ConfigError
from trialbook.execution._runner import Runner, SuiteResult

__all__ = ["run_experiments_from_list"]


def run_experiments_from_list(
    experiments: Iterable[Any],
    *,
    seeds: Iterable[int] | None = None,
    overrides: Iterable[str] = (),
    root: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    jobs: int = 1,
    timeout: float | None = None,
    retries: int = 0,
    stop_on_error: bool = False,
    rerun: bool = False,
    progress: Literal["auto", "rich", "plain", "quiet"] = "auto",
) -> SuiteResult:
    """Run a list of experiments, each in its own process, and return their outcomes.

    The Python counterpart of ``trialbook run``: the same resume (a run already completed
    with the same config and seed is skipped), the same run folders and statuses.

    Args:
        experiments: :class:`trialbook.ExperimentConfig` objects, config mappings (with an
            ``experiment:`` block naming an ``entrypoint`` or ``command``), dataclasses or
            pydantic models, or paths of YAML config files, in the order to run them.
        seeds: run every experiment once per seed (default: each config's own ``seed``).
        overrides: ``a.b=1`` / ``+a.b=1`` / ``~a.b`` overrides applied to every experiment.
        root, store_url: the workspace (default ``./experiments``) and its store URL.
        jobs, timeout, retries, stop_on_error, rerun, progress: as for :class:`Runner`.

    Returns:
        The :class:`SuiteResult`; ``result.exit_code`` is what ``trialbook run`` would
        return (0 ok, 1 a run failed, 130 after Ctrl-C, 143 after SIGTERM).

    Raises:
        ConfigError: an experiment is malformed or names code that does not exist; nothing
            has been run or written.

    Example::

        from trialbook import ExperimentConfig, run_experiments_from_list
        from trialbook.config import TrainingConfig

        experiments = [
            ExperimentConfig(name="baseline", entrypoint="train:train"),
            ExperimentConfig(
                name="low_lr", entrypoint="train:train",
                training=TrainingConfig(learning_rate=1e-5),
            ),
        ]
        result = run_experiments_from_list(experiments=experiments, seeds=[42, 43])
        print(len(result.completed), "completed")
    """
    configs = [_as_config(item, i) for i, item in enumerate(experiments)]
    if not configs:
        raise ConfigError(
            "run_experiments_from_list got no experiments; pass a list of ExperimentConfig "
            "objects, config mappings or YAML paths."
        )
    plan = plan_configs(configs, seeds=seeds, overrides=overrides)
    runner = Runner(
        root=root,
        store_url=store_url,
        jobs=jobs,
        timeout=timeout,
        retries=retries,
        stop_on_error=stop_on_error,
        rerun=rerun,
        progress=progress,
    )
    return runner.run(plan)


def _as_config(item: Any, index: int) -> Any:
    if isinstance(item, str | os.PathLike):
        return load_config(Path(item))
    to_config = getattr(item, "to_config", None)  # ExperimentConfig
    if callable(to_config):
        return to_config()
    if (
        isinstance(item, Mapping)
        or hasattr(item, "model_dump")
        or hasattr(item, "__dataclass_fields__")
    ):
        return item
    raise ConfigError(
        f"Experiment {index} is a {type(item).__name__}; pass an ExperimentConfig, a config "
        "mapping or the path of a YAML config."
    )
