"""The Store's claim contract (``trialbook.testing.stores``) on every backend: queueing a
planned run and claiming a queued run are atomic, with several Stores on one database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from trialbook.store import Store, connect
from trialbook.testing import STORE_BACKENDS, BackendUnavailable, make_store
from trialbook.testing.stores import (
    POSTGRES_URL_ENV,
    _postgresql,
    check_claim_is_atomic,
    check_queue_run_is_atomic,
)


@pytest.fixture(params=[*STORE_BACKENDS, "postgresql"])
def stores(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[Store]]:
    """Four Stores on one database (its own connections each), or the one Store when the
    database is private to it (in-memory SQLite). PostgreSQL is a real server: the one
    TRIALBOOK_TEST_POSTGRES_URL names, or one started for this module."""
    with ExitStack() as stack:
        try:
            if request.param == "postgresql":
                monkeypatch.setenv(POSTGRES_URL_ENV, request.getfixturevalue("postgres_server"))
                first = stack.enter_context(_postgresql(tmp_path, None))
            else:
                first = stack.enter_context(make_store(request.param, tmp_path))
        except BackendUnavailable as e:
            pytest.skip(str(e))
        url = getattr(first, "url", "")
        if url in ("", "sqlite://"):
            yield [first]
            return
        more = [stack.enter_context(connect(url)) for _ in range(3)]
        yield [first, *more]


def test_racing_queue_run_calls_create_one_run(stores: list[Store]) -> None:
    check_queue_run_is_atomic(stores)


def test_racing_claims_of_one_queued_run_give_it_to_one(stores: list[Store]) -> None:
    check_claim_is_atomic(stores)
