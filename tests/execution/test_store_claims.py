"""The Store's claim contract (``trialbook.testing.stores``) on every backend: queueing a
planned run, claiming a queued run, releasing a dead runner's claim and adopting a detached job
are atomic, with several Stores on one database."""

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
    check_release_of_queued_claim,
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


def test_a_dead_claimers_queued_run_is_released_once_and_claimed_by_one(
    stores: list[Store],
) -> None:
    check_release_of_queued_claim(stores)


def test_racing_adoptions_of_one_detached_job_give_it_to_one(stores: list[Store]) -> None:
    check_adopt_job_is_atomic(stores)


def test_heartbeat_ages_are_measured_with_the_database_servers_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a reader whose clock runs an hour ahead of the server does not crash a run
    on another host that beat just now, nor keep one alive that has been silent for longer
    than the grace (both judged by the server's clock, which heartbeats are written with)."""
    import time

    from trialbook.store import LivenessPolicy
    from trialbook.testing.store_contract import new_run

    with ExitStack() as stack:
        try:
            db = stack.enter_context(
                make_store("postgresql", tmp_path, liveness=LivenessPolicy(grace=30.0))
            )
        except BackendUnavailable as e:
            skip_unavailable(e)
        server = db.now()
        live = db.create_run(new_run("20260101_120000_live", host="gpu-9", pid=4242))
        silent = db.create_run(new_run("20260101_120000_gone", host="gpu-9", pid=4242))
        db.update_run(live.id, heartbeat_at=server)
        db.update_run(silent.id, heartbeat_at=server - 60)
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + 3600)  # this machine runs ahead
        assert abs(db.now() - server) < 30, "Store.now is not the server's clock"
        assert db.reap_dead_runs(force=True) == [silent.id]
        monkeypatch.undo()
        assert db.get_run(live.id).status == "running"
        assert db.get_run(silent.id).status == "crashed"
