"""The Executor contract (:class:`trialbook.testing.ExecutorContract`) on every built-in
backend in ``EXECUTOR_BACKENDS``: one subclass per backend, each building its Executor with
``make_executor``."""

from __future__ import annotations

import dataclasses
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from trialbook.execution import Executor, LocalExecutor, OutputCallback, Task, TaskHandle
from trialbook.testing import EXECUTOR_BACKENDS, ExecutorContract, make_executor


class BuiltInExecutor(ExecutorContract):
    backend: str

    def make_executor(
        self, tmp_path: Path, *, max_parallel: int, grace: float
    ) -> AbstractContextManager[Executor]:
        return make_executor(self.backend, tmp_path, max_parallel=max_parallel, grace=grace)


class TestLocalExecutor(BuiltInExecutor):
    backend = "local"


class TestRayExecutor(BuiltInExecutor):
    backend = "ray"

    @pytest.fixture(autouse=True)
    def _session_ray(self, ray_cluster: str) -> None:
        """Every test joins the session's Ray instead of starting one of its own."""


def test_every_built_in_backend_runs_the_contract() -> None:
    assert sorted(c.backend for c in BuiltInExecutor.__subclasses__()) == sorted(EXECUTOR_BACKENDS)


class _EnvDropping(LocalExecutor):
    """Breaks a rule: the task's environment variables never reach its process."""

    def submit(self, task: Task, on_output: OutputCallback | None = None) -> TaskHandle:
        return super().submit(dataclasses.replace(task, env={}), on_output)


def test_the_contract_fails_an_executor_that_breaks_a_rule(tmp_path: Path) -> None:
    with _EnvDropping(1) as executor, pytest.raises(AssertionError):
        ExecutorContract().test_exit_codes_output_files_and_env(executor, tmp_path)


class TestSlurmExecutor(BuiltInExecutor):
    """The contract on a real single-node Slurm cluster (tests/conftest.py ``slurm_cluster``)."""

    backend = "slurm"

    @pytest.fixture(autouse=True)
    def _cluster(self, slurm_cluster: object) -> None:
        del slurm_cluster
