"""The Store contract (:class:`trialbook.testing.StoreContract`) on every built-in backend in
``STORE_BACKENDS``: one subclass per backend, each building its Store with ``make_store``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

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


def test_every_built_in_backend_runs_the_contract() -> None:
    assert sorted(c.backend for c in BuiltInStore.__subclasses__()) == sorted(STORE_BACKENDS)
