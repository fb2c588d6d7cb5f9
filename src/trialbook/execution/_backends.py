"""Building an Executor by name, as ``trialbook run --executor NAME`` does.

One owner for the names and their options: the CLI parses, calls :func:`make_executor`, and
hands the result to the Runner. Ray and Slurm are imported only when asked for, and name the
extra to install when their library is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trialbook.errors import ConfigError
from trialbook.execution._executor import Executor, check_jobs

__all__ = ["EXECUTOR_NAMES", "make_executor"]

#: The executors ``trialbook run --executor`` takes.
EXECUTOR_NAMES = ("local", "ray", "slurm")


def make_executor(
    name: str,
    *,
    jobs: int = 1,
    grace: float = 10.0,
    address: str | None = None,
    slurm: Mapping[str, Any] | None = None,
    folder: str | None = None,
) -> Executor:
    """The executor called ``name``. Building one starts nothing: a backend connects (or
    starts a local Ray) on its first ``submit``, so a dry run costs nothing.

    Args:
        name: ``local``, ``ray`` or ``slurm``.
        jobs: how many runs execute at once.
        grace: seconds between asking a run's process to stop and killing it.
        address: Ray only: the cluster to join (``auto``, ``HOST:PORT`` of its head, or
            ``ray://HOST:PORT`` of its Ray Client server); None starts a local Ray with the
            machine's CPUs.
        slurm: Slurm only: settings that override every run's ``experiment.slurm``
            (``--slurm-partition`` etc.).
        folder: Slurm only: where submitit keeps its job files (a shared filesystem path).

    Raises:
        ConfigError: an unknown name, or an option the executor does not take.
    """
    if name not in EXECUTOR_NAMES:
        raise ConfigError(
            f"Unknown executor {name!r}; use one of {', '.join(EXECUTOR_NAMES)}.",
            parameter="executor",
            value=name,
        )
    check_jobs(jobs)  # the Runner's own check, before the executor is built
    if address is not None and name != "ray":
        raise ConfigError(
            f"--address is for --executor ray, not {name}; remove it.",
            parameter="address",
            value=address,
        )
    if slurm and name != "slurm":
        raise ConfigError(
            f"--slurm-* options are for --executor slurm, not {name}; remove them.",
            parameter="slurm",
            value=dict(slurm),
        )
    if name == "local":
        from trialbook.execution._local import LocalExecutor

        return LocalExecutor(jobs, grace=grace)
    if name == "ray":
        from trialbook.execution._ray import RayExecutor

        return RayExecutor(jobs, grace=grace, address=address)
    from trialbook.execution._slurm import SlurmExecutor

    return SlurmExecutor(jobs, grace=grace, overrides=slurm or {}, folder=folder)
