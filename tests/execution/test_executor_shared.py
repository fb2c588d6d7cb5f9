"""The Executor contract (:class:`trialbook.testing.ExecutorContract`) on every built-in
backend in ``EXECUTOR_BACKENDS``: one subclass per backend, each building its Executor with
``make_executor``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from trialbook.execution import Executor
from trialbook.testing import EXECUTOR_BACKENDS, ExecutorContract, make_executor


class BuiltInExecutor(ExecutorContract):
    backend: str

    def make_executor(
        self, tmp_path: Path, *, max_parallel: int, grace: float
    ) -> AbstractContextManager[Executor]:
        return make_executor(self.backend, tmp_path, max_parallel=max_parallel, grace=grace)


class TestLocalExecutor(BuiltInExecutor):
    backend = "local"


def test_every_built_in_backend_runs_the_contract() -> None:
    assert sorted(c.backend for c in BuiltInExecutor.__subclasses__()) == sorted(EXECUTOR_BACKENDS)
