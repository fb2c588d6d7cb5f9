"""Every Executor backend, built and torn down, for one test suite run against all of them.

``EXECUTOR_BACKENDS`` names the backends; :func:`make_executor` builds one. Adding a backend
(Ray, Slurm) is one entry in ``_FACTORIES``: a context manager that takes a temporary folder,
the number of tasks to run at once and the stop grace period, and yields a ready Executor. A
backend that needs something this machine lacks raises
:class:`~trialbook.testing.BackendUnavailable` so the suite can skip it. The tests themselves
are :class:`trialbook.testing.ExecutorContract`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from trialbook.errors import ConfigError
from trialbook.execution._executor import Executor
from trialbook.execution._local import LocalExecutor
from trialbook.testing.stores import BackendUnavailable

__all__ = ["EXECUTOR_BACKENDS", "make_executor"]

ExecutorFactory = Callable[[Path, int, float], AbstractContextManager[Executor]]


@contextmanager
def _local(tmp_path: Path, max_parallel: int, grace: float) -> Iterator[Executor]:
    executor = LocalExecutor(max_parallel, grace=grace)
    try:
        yield executor
    finally:
        executor.close()


@contextmanager
def _slurm(tmp_path: Path, max_parallel: int, grace: float) -> Iterator[Executor]:
    """A SlurmExecutor on the test cluster of this process (started once, on first use, by
    :func:`trialbook.testing.slurm.shared_cluster`), its job files in ``tmp_path``."""
    from trialbook.testing.slurm import shared_cluster

    shared_cluster()
    try:
        from trialbook.execution._slurm import SlurmExecutor

        executor = SlurmExecutor(max_parallel, grace=grace, folder=tmp_path / "slurm-jobs")
    except ConfigError as e:  # submitit is missing
        raise BackendUnavailable(str(e)) from e
    try:
        yield executor
    finally:
        executor.close()


@contextmanager
def _ray(tmp_path: Path, max_parallel: int, grace: float) -> Iterator[Executor]:
    """A RayExecutor on the Ray this process has joined (``ray.init``, e.g. a session
    fixture's), or on a local Ray it starts and stops (about 5-10 s) when there is none."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise BackendUnavailable(
            "Ray is not installed; install the ray extra: pip install 'trialbook[ray]'."
        )
    from trialbook.execution._ray import RayExecutor

    executor = RayExecutor(max_parallel, grace=grace)
    try:
        yield executor
    finally:
        executor.close()


_FACTORIES: dict[str, ExecutorFactory] = {"local": _local, "ray": _ray, "slurm": _slurm}

#: The backends every shared Executor test runs against.
EXECUTOR_BACKENDS: list[str] = list(_FACTORIES)


@contextmanager
def make_executor(
    backend: str, tmp_path: Path, *, max_parallel: int = 1, grace: float = 5.0
) -> Iterator[Executor]:
    """An Executor on ``backend`` (one of ``EXECUTOR_BACKENDS``); closed on exit, which
    stops whatever is still running.

    Raises:
        ValueError: ``backend`` is not one of ``EXECUTOR_BACKENDS``.
        BackendUnavailable: the backend cannot be built here.
    """
    try:
        factory = _FACTORIES[backend]
    except KeyError:
        raise ValueError(
            f"Unknown executor backend {backend!r}; use one of {', '.join(EXECUTOR_BACKENDS)}."
        ) from None
    with factory(Path(tmp_path), max_parallel, grace) as executor:
        yield executor
