"""The Store's claim contract (``trialbook.testing.stores``) on every backend: queueing a
planned run, claiming a queued run and adopting a detached job are atomic, with several Stores
on one database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from trialbook.store import Store, connect
from trialbook.testing import STORE_BACKENDS, BackendUnavailable, make_store
from trialbook.testing.stores import (
    check_adopt_job_is_atomic,
    check_claim_is_atomic,
    check_queue_run_is_atomic,
    skip_unavailable,
)


@pytest.fixture(params=STORE_BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Store]]:
    """Four Stores on one database (its own connections each), or the one Store when the
    database is private to it (in-memory SQLite). PostgreSQL is a real server
    (:func:`trialbook.testing.stores.postgres_server`)."""
    with ExitStack() as stack:
        try:
            first = stack.enter_context(make_store(request.param, tmp_path))
        except BackendUnavailable as e:
            skip_unavailable(e)
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


def test_racing_adoptions_of_one_detached_job_give_it_to_one(stores: list[Store]) -> None:
    check_adopt_job_is_atomic(stores)
