"""Contract test suites for trialbook's backends, and the factories that build its own.

A third-party Store, Executor or Benchmark proves it keeps trialbook's rules by running the
same tests trialbook's own backends run: subclass the contract in a test module and override
its one factory method.

- :class:`StoreContract` (override ``make_store(tmp_path, liveness)``): every rule of
  :class:`~trialbook.store.Store`, from run ids and metrics to crash detection.
- :class:`ExecutorContract` (override ``make_executor(tmp_path, max_parallel=, grace=)``):
  exit codes, signals, timeouts, cancelling, output files and parallelism of an
  :class:`~trialbook.execution.Executor`.
- :class:`BenchmarkContract` (override ``make_case(tmp_path)``): a
  :class:`~trialbook.evaluation.BaseBenchmark` scores right outputs 1 and wrong outputs 0,
  loads a deterministic dataset, round-trips through a run; see :class:`BenchmarkCase`.

Each factory returns a context manager (``contextlib.contextmanager`` or ``nullcontext``) and
may raise :class:`BackendUnavailable` to skip the tests where the backend cannot run (with
``CI=true`` they fail instead)::

    from contextlib import contextmanager
    from trialbook.testing import ExecutorContract

    class TestMyExecutor(ExecutorContract):
        @contextmanager
        def make_executor(self, tmp_path, *, max_parallel, grace):
            executor = MyExecutor(max_parallel, grace=grace)
            try:
                yield executor
            finally:
                executor.close()

The contracts need pytest and load only when used (under pytest their failed asserts show
the values compared, as in your own test files); ``make_store``, ``make_executor`` and
``make_benchmark`` build trialbook's own backends by name (``STORE_BACKENDS``, ...).
"""

import sys
from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes
from trialbook.testing.stores import (
    POSTGRES_URL_ENV,
    STORE_BACKENDS,
    BackendUnavailable,
    make_store,
)

if TYPE_CHECKING:
    from trialbook.testing.benchmark_contract import BenchmarkContract
    from trialbook.testing.benchmarks import BENCHMARK_BACKENDS, BenchmarkCase, make_benchmark
    from trialbook.testing.executor_contract import ExecutorContract
    from trialbook.testing.executors import EXECUTOR_BACKENDS, make_executor
    from trialbook.testing.store_contract import StoreContract

__all__ = [
    "BENCHMARK_BACKENDS",
    "EXECUTOR_BACKENDS",
    "POSTGRES_URL_ENV",
    "STORE_BACKENDS",
    "BackendUnavailable",
    "BenchmarkCase",
    "BenchmarkContract",
    "ExecutorContract",
    "StoreContract",
    "make_benchmark",
    "make_executor",
    "make_store",
]

_LAZY = {
    "BENCHMARK_BACKENDS": "trialbook.testing.benchmarks",
    "BenchmarkCase": "trialbook.testing.benchmarks",
    "BenchmarkContract": "trialbook.testing.benchmark_contract",
    "EXECUTOR_BACKENDS": "trialbook.testing.executors",
    "ExecutorContract": "trialbook.testing.executor_contract",
    "StoreContract": "trialbook.testing.store_contract",
    "make_benchmark": "trialbook.testing.benchmarks",
    "make_executor": "trialbook.testing.executors",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)

if "pytest" in sys.modules:
    # Under pytest, a contract's failed assert shows its values (as in the user's own test
    # files); the rewrite has to be registered before the contract modules are imported.
    sys.modules["pytest"].register_assert_rewrite(
        "trialbook.testing.benchmark_contract",
        "trialbook.testing.executor_contract",
        "trialbook.testing.store_contract",
    )
