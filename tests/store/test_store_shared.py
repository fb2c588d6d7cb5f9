"""The Store contract (:class:`trialbook.testing.StoreContract`) on every built-in backend in
``STORE_BACKENDS``: one subclass per backend, each building its Store with ``make_store``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from trialbook.store import LivenessPolicy, Store
from trialbook.testing import STORE_BACKENDS, StoreContract, make_store


class BuiltInStore(StoreContract):
    backend: str

    def make_store(self, tmp_path: Path, liveness: LivenessPolicy) -> AbstractContextManager[Store]:
        return make_store(self.backend, tmp_path, liveness=liveness)


class TestSqliteFileStore(BuiltInStore):
    backend = "sqlite-file"


class TestSqliteMemoryStore(BuiltInStore):
    backend = "sqlite-memory"


class TestPostgresqlStore(BuiltInStore):
    """A new database per test on the session's real server (tests/conftest.py)."""

    backend = "postgresql"


def test_every_built_in_backend_runs_the_contract() -> None:
    assert sorted(c.backend for c in BuiltInStore.__subclasses__()) == sorted(STORE_BACKENDS)


def test_the_contract_fails_a_store_that_breaks_a_rule(tmp_path: Path) -> None:
    with make_store("sqlite-memory", tmp_path) as store:
        by_name = store.list_experiments
        store.list_experiments = lambda: list(reversed(by_name()))  # type: ignore[method-assign]
        with pytest.raises(AssertionError) as failed:
            StoreContract().test_list_experiments_is_by_name_and_includes_those_create_run_made(
                store
            )
    # The contract's asserts are rewritten by pytest, so a backend's author sees the values.
    assert "['zeta', 'alpha'] == ['alpha', 'zeta']" in str(failed.value)


def test_a_contract_without_make_store_says_what_to_override(tmp_path: Path) -> None:
    class TestForgotten(StoreContract):
        pass

    with pytest.raises(NotImplementedError, match=r"TestForgotten must override make_store"):
        TestForgotten().make_store(tmp_path, LivenessPolicy())


@pytest.mark.parametrize(
    ("ci", "outcome"), [("", pytest.skip.Exception), ("true", pytest.fail.Exception)]
)
def test_a_backend_that_cannot_be_built_is_skipped_but_fails_under_ci(
    ci: str, outcome: type[BaseException], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from trialbook.testing import BackendUnavailable

    class TestNoServer(StoreContract):
        def make_store(
            self, tmp_path: Path, liveness: LivenessPolicy
        ) -> AbstractContextManager[Store]:
            raise BackendUnavailable("no server at $TEST_STORE_URL")

    monkeypatch.setenv("CI", ci)
    fixture = TestNoServer.store.__wrapped__  # type: ignore[attr-defined]
    with pytest.raises(outcome, match="no server at"):
        next(fixture(TestNoServer(), tmp_path))
