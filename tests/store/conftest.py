"""Fixtures of the store tests: a fresh PostgreSQL store (on the session's real server) and a
fresh SQLite store, each holding the run ``store_helpers.RUN``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_helpers import add_run

from trialbook.store import SQLStore, connect
from trialbook.testing.stores import new_postgres_database


@pytest.fixture
def pg(postgres_server: str) -> Iterator[SQLStore]:
    store = connect(new_postgres_database(postgres_server), create=True)
    try:
        add_run(store)
        yield store
    finally:
        store.close()


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[SQLStore]:
    store = connect(f"sqlite:///{tmp_path}/trialbook.db", create=True)
    try:
        add_run(store)
        yield store
    finally:
        store.close()
