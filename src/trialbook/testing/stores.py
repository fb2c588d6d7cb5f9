"""Every Store backend, built fresh and torn down, for one test suite run against all of them.

``STORE_BACKENDS`` names the backends; :func:`make_store` builds one. Adding a backend is one
entry in ``_FACTORIES``: a context manager that takes a temporary folder and yields an empty,
schema-checked Store. PostgreSQL's factory makes a database on :func:`postgres_server` (the
server ``TRIALBOOK_TEST_POSTGRES_URL`` names, else a throwaway one this process starts once);
where neither can be had it raises :class:`BackendUnavailable`, so a test suite can skip it
(or fail, under ``CI=true``). The tests themselves are :class:`trialbook.testing.StoreContract`; the
claim checks below (``check_queue_run_is_atomic``, ``check_claim_is_atomic``,
``check_adopt_job_is_atomic``, ``check_release_of_queued_claim``) need several Stores on one
database and take them as arguments.
"""

from __future__ import annotations

import atexit
import dataclasses
import glob
import os
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

from trialbook.store._base import Store
from trialbook.store._connect import connect
from trialbook.store._liveness import LivenessPolicy, RunningProcess
from trialbook.store._records import NewRun

__all__ = [
    "PASSWORD_GROUP",
    "POSTGRES_URL_ENV",
    "STORE_BACKENDS",
    "BackendUnavailable",
    "ensure_password_group",
    "local_postgres",
    "make_store",
    "new_postgres_database",
    "password_database",
    "postgres_server",
]

#: Environment variable with the URL of a PostgreSQL server whose user may create databases.
POSTGRES_URL_ENV = "TRIALBOOK_TEST_POSTGRES_URL"

#: On a :func:`local_postgres` server, members of this role must log in with their password
#: (``CREATE ROLE r LOGIN PASSWORD '...' IN ROLE trialbook_password_required``).
PASSWORD_GROUP = "trialbook_password_required"

T = TypeVar("T")

StoreFactory = Callable[[Path, LivenessPolicy | None], AbstractContextManager[Store]]


class BackendUnavailable(Exception):
    """The backend needs something this machine lacks (a server URL, a driver)."""


def skip_unavailable(error: BackendUnavailable) -> NoReturn:
    """Skip the current test because its backend cannot be built here, or fail it when the
    ``CI`` environment variable is ``true`` (in CI every backend must run, never be skipped)."""
    import pytest

    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"{error} (CI is set: a backend that cannot be built fails the test).")
    pytest.skip(str(error))


@contextmanager
def _sqlite_file(tmp_path: Path, liveness: LivenessPolicy | None) -> Iterator[Store]:
    store = connect(f"sqlite:///{tmp_path / 'trialbook.db'}", create=True, liveness=liveness)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _sqlite_memory(tmp_path: Path, liveness: LivenessPolicy | None) -> Iterator[Store]:
    # The database lives as long as the engine's one connection: close() drops it.
    store = connect("sqlite://", create=True, liveness=liveness)
    try:
        yield store
    finally:
        store.close()


def new_postgres_database(server: str) -> str:
    """Create an empty database with a random name on the PostgreSQL server at ``server`` (a
    URL whose user may create databases; ``postgresql://`` means psycopg 3, as for a store)
    and return its URL."""
    from sqlalchemy import create_engine, text

    from trialbook.store._dialect import parse_url

    name = f"trialbook_test_{secrets.token_hex(6)}"
    admin = create_engine(parse_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return parse_url(server).set(database=name).render_as_string(hide_password=False)


@contextmanager
def _postgresql(tmp_path: Path, liveness: LivenessPolicy | None) -> Iterator[Store]:
    """A fresh database on :func:`postgres_server`, dropped afterwards."""
    from sqlalchemy import create_engine, text

    from trialbook.store._dialect import parse_url

    server = postgres_server()
    url = new_postgres_database(server)
    name = parse_url(url).database
    admin = create_engine(parse_url(server), isolation_level="AUTOCOMMIT")
    try:
        store = connect(url, create=True, liveness=liveness)
        try:
            yield store
        finally:
            store.close()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def ensure_password_group(server: str) -> None:
    """Create :data:`PASSWORD_GROUP` on the server at ``server`` (an admin URL) unless it
    exists; only a :func:`local_postgres` server is set to ask its members for a password."""
    from sqlalchemy import create_engine, text

    from trialbook.store._dialect import parse_url

    admin = create_engine(parse_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "
                    f"'{PASSWORD_GROUP}') THEN CREATE ROLE {PASSWORD_GROUP} NOLOGIN; END IF; "
                    "END $$"
                )
            )
    finally:
        admin.dispose()


@contextmanager
def password_database(server: str, prefix: str = "tb_secret") -> Iterator[tuple[str, str, str]]:
    """A new role that must log in with its password (a member of :data:`PASSWORD_GROUP`),
    owning a new empty database, on the server at ``server`` (an admin URL): yields
    ``(url with the password, password, role)``; both are dropped afterwards."""
    from sqlalchemy import create_engine, make_url, text

    from trialbook.store._dialect import parse_url

    ensure_password_group(server)
    tag = secrets.token_hex(4)
    role, database, password = f"{prefix}_{tag}", f"{prefix}_{tag}", f"Pw-{secrets.token_hex(12)}"
    admin = create_engine(parse_url(server), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE {PASSWORD_GROUP}")
            )
            conn.execute(text(f"CREATE DATABASE {database} OWNER {role}"))
        url = make_url(server).set(username=role, password=password, database=database)
        yield url.render_as_string(hide_password=False), password, role
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
    finally:
        admin.dispose()


#: This process's throwaway server: its URL, or why it could not be started.
_server: str | BackendUnavailable | None = None
_server_lock = threading.Lock()


def postgres_server() -> str:
    """The URL of a PostgreSQL server whose user may create databases, for tests: the one
    ``TRIALBOOK_TEST_POSTGRES_URL`` names, else a throwaway :func:`local_postgres` started on
    the first call and stopped when this process exits (later calls share it).

    Raises:
        BackendUnavailable: no URL is set and no server can be started here (raised again,
            without a second attempt, on later calls).
    """
    global _server
    given = os.environ.get(POSTGRES_URL_ENV)
    if given:
        return given
    with _server_lock:
        if _server is None:
            _server = _start_shared_server()
    if isinstance(_server, BackendUnavailable):
        raise _server
    return _server


def _start_shared_server() -> str | BackendUnavailable:
    server = local_postgres()
    try:
        url = server.__enter__()
    except BackendUnavailable as e:
        return e
    owner = os.getpid()

    def stop() -> None:
        # A forked child that exits through sys.exit runs atexit too: only the process that
        # started the server stops it.
        if os.getpid() == owner:
            server.__exit__(None, None, None)

    atexit.register(stop)
    return url


_FACTORIES: dict[str, StoreFactory] = {
    "sqlite-file": _sqlite_file,
    "sqlite-memory": _sqlite_memory,
    "postgresql": _postgresql,
}

#: The backends every shared Store test runs against.
STORE_BACKENDS: list[str] = list(_FACTORIES)


@contextmanager
def make_store(
    backend: str, tmp_path: Path, *, liveness: LivenessPolicy | None = None
) -> Iterator[Store]:
    """An empty Store on ``backend`` (one of ``STORE_BACKENDS``), closed and removed on exit.

    Args:
        backend: which backend to build.
        tmp_path: a folder the backend may use for its files (pytest's ``tmp_path``).
        liveness: the crash-detection policy the Store uses (default: this host, env grace).

    Raises:
        ValueError: ``backend`` is not one of ``STORE_BACKENDS``.
        BackendUnavailable: the backend cannot be built here (no PostgreSQL server, no
            psycopg).
    """
    try:
        factory = _FACTORIES[backend]
    except KeyError:
        raise ValueError(
            f"Unknown store backend {backend!r}; use one of {', '.join(STORE_BACKENDS)}."
        ) from None
    with factory(Path(tmp_path), liveness) as store:
        yield store


# ----------------------------------------------------------------- contract: claiming runs
# What lets several runners share one database: Store.queue_run and
# Store.claim_queued_run are atomic. A backend passes these checks with several Stores open
# on one database (or one Store shared by every thread, for a database only one Store sees).


def _new_queued_run(config_hash: str, seed: int | None, n: int) -> NewRun:
    return NewRun(
        id=f"20260101_000000_{n:06x}",
        experiment="claims",
        name="claims",
        config={"seed": seed},
        config_hash=config_hash,
        group_key="claims",
        status="queued",
        seed=seed,
    )


def _race(stores: Sequence[Store], workers: int, job: Callable[[Store, int], T]) -> list[T]:
    """``job(store, i)`` in ``workers`` threads released at once; results in order of ``i``."""
    barrier = threading.Barrier(workers)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = job(stores[i % len(stores)], i)
        except BaseException as e:  # reported below, in the caller's thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    if errors:
        raise errors[0]
    return [results[i] for i in range(workers)]


def check_queue_run_is_atomic(stores: Sequence[Store], workers: int = 8) -> None:
    """Workers queueing one (config hash, seed) at once create exactly one run between them,
    and all get that run back; a run named in ``known`` is not in the way, any other is.

    Raises:
        AssertionError: the backend broke the contract.
    """
    outcomes = _race(
        stores, workers, lambda store, i: store.queue_run(_new_queued_run("h-race", 7, i))
    )
    created = [record.id for record, new in outcomes if new]
    assert len(created) == 1, f"{len(created)} of {workers} racing queue_run calls created a run"
    assert {record.id for record, _ in outcomes} == set(created), "callers got different runs"
    store = stores[0]
    assert [r.id for r in store.list_runs(config_hash="h-race")] == created
    # A finished run the caller knew of is not in the way (a --rerun); one it did not know is.
    store.finish_run(created[0], "completed", ended_at=1.0, duration=1.0)
    again, new = store.queue_run(_new_queued_run("h-race", 7, 1000), known=created)
    assert new and again.status == "queued", "a known run blocked queue_run"
    same, new = store.queue_run(_new_queued_run("h-race", 7, 1001), known=created)
    assert not new and same.id == again.id, "an unknown queued run did not block queue_run"
    # The seed is part of the pair, None included.
    other_seed, new = store.queue_run(_new_queued_run("h-race", None, 1002))
    assert new and other_seed.seed is None
    blocked, new = store.queue_run(_new_queued_run("h-race", None, 1003))
    assert not new and blocked.id == other_seed.id


def check_claim_is_atomic(stores: Sequence[Store], workers: int = 8) -> None:
    """Workers claiming one queued run at once: exactly one succeeds and the run is
    ``running`` under its pid; a claim of a run that is not queued fails; an unknown run id
    raises RunNotFoundError.

    Raises:
        AssertionError: the backend broke the contract.
    """
    from trialbook.errors import RunNotFoundError

    store = stores[0]
    run, _ = store.queue_run(_new_queued_run("h-claim", 1, 0))
    # This process on this host, so the claimed run stays alive for crash detection; each
    # worker's heartbeat time tells the winner.
    host, pid = socket.gethostname(), os.getpid()
    wins = _race(
        stores,
        workers,
        lambda s, i: s.claim_queued_run(
            run.id, host=host, pid=pid, pid_started_at=None, at=time.time() + i
        ),
    )
    assert wins.count(True) == 1, f"{wins.count(True)} of {workers} racing claims succeeded"
    after = store.get_run(run.id)
    assert after.status == "running" and after.pid == pid and after.host == host
    assert after.heartbeat_at is not None
    assert after.started_at is None, "a claim must leave started_at to the process that runs"
    assert not store.claim_queued_run(run.id, host="h", pid=1, pid_started_at=None, at=2.0)
    try:
        store.claim_queued_run("no-such-run", host="h", pid=1, pid_started_at=None, at=2.0)
    except RunNotFoundError:
        pass
    else:
        raise AssertionError("claim_queued_run of an unknown run id did not raise")

    # A claim that keeps the run queued (a Slurm job waiting for a node) holds it all the same.
    held, _ = store.queue_run(_new_queued_run("h-claim-held", 1, 1))
    wins = _race(
        stores,
        workers,
        lambda s, i: s.claim_queued_run(
            held.id, host=host, pid=pid, pid_started_at=None, at=time.time() + i, keep_queued=True
        ),
    )
    assert wins.count(True) == 1, f"{wins.count(True)} of {workers} racing held claims won"
    after = store.get_run(held.id)
    assert after.status == "queued" and after.pid == pid and after.host == host
    assert not store.claim_queued_run(held.id, host="h", pid=1, pid_started_at=None, at=3.0)
    assert store.get_run(held.id).status == "queued"


def check_adopt_job_is_atomic(stores: Sequence[Store], workers: int = 8) -> None:
    """Workers adopting one detached job at once: exactly one becomes its holder, with a
    fresh heartbeat and ``detached`` cleared; a job whose holder beat or changed since it
    was read is not adopted; a run without a holder row is adopted by one insert; a runner
    on another host whose heartbeat is older than the grace counts as gone, one that beats
    as alive; a detached holder never counts as alive; an unknown run id raises.

    Raises:
        AssertionError: the backend broke the contract.
    """
    from trialbook.errors import RunNotFoundError

    store = stores[0]
    here, me = socket.gethostname(), os.getpid()
    run, _ = store.queue_run(_new_queued_run("h-adopt", 1, 0))
    store.hold_jobs([run.id], host="submitter", pid=4242, pid_started_at=None, detached=True)
    [(_, held)] = store.job_holders([run.id]).items()
    assert (held.host, held.pid, held.detached) == ("submitter", 4242, True)
    assert not store.holder_alive(held), "a detached holder counted as alive"
    wins = _race(
        stores,
        workers,
        lambda s, i: s.adopt_job(run.id, holder=held, host=here, pid=me + i, pid_started_at=None),
    )
    assert wins.count(True) == 1, f"{wins.count(True)} of {workers} racing adoptions won"
    after = store.job_holders([run.id])[run.id]
    assert (after.host, after.pid, after.detached) == (here, me + wins.index(True), False)
    assert after.heartbeat_at >= held.heartbeat_at
    # Adopting with what was read before the winner changed it fails.
    assert not store.adopt_job(run.id, holder=held, host=here, pid=1, pid_started_at=None)

    # A runner on another host lives by its heartbeat, judged with the Store's clock.
    other, _ = store.queue_run(_new_queued_run("h-adopt", 2, 1))
    store.hold_jobs([other.id], host="elsewhere", pid=7, pid_started_at=None)
    fresh = store.job_holders([other.id])[other.id]
    assert store.holder_alive(fresh), "a runner on another host that just beat counted as gone"
    assert store.beat_jobs(host="elsewhere", pid=7) == 1
    grace = store.liveness.grace
    stale = dataclasses.replace(fresh, heartbeat_at=store.now() - grace - 1)
    assert not store.holder_alive(stale), "a runner silent for longer than the grace lived on"
    # It beat after `fresh` was read: adopting with the old heartbeat fails.
    assert not store.adopt_job(other.id, holder=fresh, host=here, pid=me, pid_started_at=None)

    # A job submitted before the holder table (job.json only): one insert wins.
    bare, _ = store.queue_run(_new_queued_run("h-adopt", 3, 2))
    wins = _race(
        stores,
        workers,
        lambda s, i: s.adopt_job(bare.id, holder=None, host=here, pid=me + i, pid_started_at=None),
    )
    assert wins.count(True) == 1, f"{wins.count(True)} of {workers} racing first adoptions won"
    try:
        store.adopt_job("no-such-run", holder=None, host=here, pid=me, pid_started_at=None)
    except RunNotFoundError:
        pass
    else:
        raise AssertionError("adopt_job of an unknown run id did not raise")


def check_release_of_queued_claim(stores: Sequence[Store], workers: int = 8) -> None:
    """Releasing the claim of a queued run whose claimer died before its backend had the
    job: the claim is read back as it was made and beaten; a release undoes exactly that
    claim and nothing newer (a claim beaten since, another runner's new claim, a run that
    started); of workers racing to release one dead claim and claim the run, exactly one
    release and one claim win; a claimer on another host lives by its heartbeat's age, one on
    this host by its pid and the pid's start time; an unknown run id raises.

    Raises:
        AssertionError: the backend broke the contract.
    """
    from trialbook.errors import RunNotFoundError
    from trialbook.store._liveness import process_start_time

    store = stores[0]
    here, me = socket.gethostname(), os.getpid()
    grace = store.liveness.grace
    run, _ = store.queue_run(_new_queued_run("h-release", 1, 0))
    unclaimed, _ = store.queue_run(_new_queued_run("h-release", 2, 1))
    silent_since = store.now() - grace - 30
    assert store.claim_queued_run(
        run.id, host="gpu-7", pid=4242, pid_started_at=5.0, at=silent_since, keep_queued=True
    )
    claims = store.queued_claims([run.id, unclaimed.id, "no-such-run"])
    assert list(claims) == [run.id], f"queued_claims gave {sorted(claims)}"
    old = claims[run.id]
    assert (old.host, old.pid, old.pid_started_at) == ("gpu-7", 4242, 5.0)
    assert not store.claimer_alive(old), "a claimer silent for longer than the grace lived on"

    # The claimer beats: a release with what was read before changes nothing.
    assert store.beat_queued_claims(host="gpu-7", pid=4242, pid_started_at=5.0) == 1
    assert store.beat_queued_claims(host="gpu-7", pid=4243, pid_started_at=5.0) == 0
    # The same pid, started at another time, is another process (a reused pid).
    assert store.beat_queued_claims(host="gpu-7", pid=4242, pid_started_at=6.0) == 0
    beaten = store.queued_claims([run.id])[run.id]
    assert beaten.heartbeat_at is not None and old.heartbeat_at is not None
    assert beaten.heartbeat_at > old.heartbeat_at
    assert store.claimer_alive(beaten), "a claimer on another host that just beat counted as gone"
    assert not _release(store, run.id, old), "a release undid a claim beaten since it was read"
    assert store.queued_claims([run.id]) == {run.id: beaten}

    # It dies there: the release clears the claim, the run stays queued and can be claimed.
    assert _release(store, run.id, beaten)
    after = store.get_run(run.id)
    assert (after.status, after.host, after.pid, after.heartbeat_at) == ("queued", None, None, None)
    assert store.queued_claims([run.id]) == {}
    assert not _release(store, run.id, beaten), "a claim was released twice"
    # A late release after another runner claimed the run anew changes nothing.
    assert store.claim_queued_run(
        run.id, host=here, pid=me, pid_started_at=None, at=store.now(), keep_queued=True
    )
    assert not _release(store, run.id, beaten), "a stale release undid a newer claim"
    assert store.queued_claims([run.id])[run.id].pid == me
    # Nor does the release of a run that started (running: crash detection has it).
    started, _ = store.queue_run(_new_queued_run("h-release", 3, 2))
    assert store.claim_queued_run(started.id, host=here, pid=me, pid_started_at=None, at=1.0)
    running = dataclasses.replace(beaten, host=here, pid=me, pid_started_at=None, heartbeat_at=1.0)
    assert not _release(store, started.id, running), "the release of a running run succeeded"
    assert store.get_run(started.id).status == "running"

    # This host: the pid and its start time decide (a reused pid is another process).
    mine = store.queued_claims([run.id])[run.id]
    born = process_start_time(me)
    assert store.claimer_alive(dataclasses.replace(mine, pid_started_at=born))
    assert not store.claimer_alive(dataclasses.replace(mine, pid_started_at=(born or 0) - 100))

    # Racing: each worker releases the dead claim, then claims the run; one of each wins.
    raced, _ = store.queue_run(_new_queued_run("h-release", 4, 3))
    assert store.claim_queued_run(
        raced.id, host="gpu-7", pid=4242, pid_started_at=None, at=1.0, keep_queued=True
    )
    dead = store.queued_claims([raced.id])[raced.id]

    def release_then_claim(s: Store, i: int) -> tuple[bool, bool]:
        released = _release(s, raced.id, dead)
        claimed = s.claim_queued_run(
            raced.id, host=here, pid=me + i, pid_started_at=None, at=2.0, keep_queued=True
        )
        return released, claimed

    outcomes = _race(stores, workers, release_then_claim)
    releases = [r for r, _ in outcomes]
    wins = [c for _, c in outcomes]
    assert releases.count(True) == 1, f"{releases.count(True)} of {workers} releases won"
    assert wins.count(True) == 1, f"{wins.count(True)} of {workers} claims after a release won"
    final = store.queued_claims([raced.id])[raced.id]
    assert (final.host, final.pid) == (here, me + wins.index(True))

    try:
        _release(store, "no-such-run", dead)
    except RunNotFoundError:
        pass
    else:
        raise AssertionError("release_queued_claim of an unknown run id did not raise")


def _release(store: Store, run_id: str, claim: RunningProcess) -> bool:
    return store.release_queued_claim(
        run_id,
        host=claim.host or "",
        pid=claim.pid or 0,
        pid_started_at=claim.pid_started_at,
        heartbeat_at=claim.heartbeat_at,
    )


__all__ += [
    "check_adopt_job_is_atomic",
    "check_claim_is_atomic",
    "check_queue_run_is_atomic",
    "check_release_of_queued_claim",
]


def _postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs: ``TRIALBOOK_TEST_PG_BIN``, the one holding
    ``initdb`` on PATH, or the newest /usr/lib/postgresql/*/bin (Debian, Ubuntu)."""
    configured = os.environ.get("TRIALBOOK_TEST_PG_BIN")
    if configured:
        return Path(configured)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return Path(candidates[-1]).parent if candidates else None


@contextmanager
def local_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server, for as long as the block runs; yields the admin URL
    (``postgresql+psycopg://postgres@/postgres?host=<socket folder>&port=<port>``).

    The data folder is a new temporary folder; the server listens on a Unix socket only.
    Members of :data:`PASSWORD_GROUP` log in with their password (scram-sha-256); the other
    roles (``postgres`` too) are trusted. PostgreSQL refuses to run as root, so as root it runs
    as ``nobody``.

    Raises:
        BackendUnavailable: no PostgreSQL binaries, no psycopg, or the server did not start.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError as e:
        raise BackendUnavailable(
            f"psycopg is not installed ({e}); pip install 'trialbook[postgres]'."
        ) from e
    bindir = _postgres_bin()
    if bindir is None or not (bindir / "initdb").exists():
        raise BackendUnavailable(
            "No PostgreSQL server programs (initdb, pg_ctl) found; install postgresql or set "
            "TRIALBOOK_TEST_PG_BIN to their folder."
        )
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="trialbook-pg-"))
    if os.geteuid() == 0:
        # runuser lives in /usr/sbin or /sbin, often not on a plain PATH.
        runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
        if runuser is None:
            shutil.rmtree(folder, ignore_errors=True)
            raise BackendUnavailable(
                "PostgreSQL refuses to run as root and runuser (util-linux) is not installed "
                "to start it as nobody; run the tests as another user."
            )
        as_user = [runuser, "-u", "nobody", "--"]
        shutil.chown(folder, "nobody")
    data, sock = folder / "data", folder / "sock"
    port = random.randint(20000, 60000)
    pg_ctl = [*as_user, str(bindir / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        subprocess.run([*as_user, "mkdir", str(sock)], check=True)
        initdb = subprocess.run(
            [*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
            capture_output=True,
            text=True,
            cwd="/",
        )
        if initdb.returncode != 0:
            raise BackendUnavailable(f"initdb failed: {initdb.stderr.strip()[-500:]}")
        # Members of PASSWORD_GROUP log in with their password, so a test can prove a
        # password works (and a wrong one does not); other roles are trusted, as initdb set
        # them. Rewriting the file keeps its owner.
        (data / "pg_hba.conf").write_text(
            f"local all +{PASSWORD_GROUP} scram-sha-256\nlocal all all trust\n",
            encoding="utf-8",
        )
        options = f"-k {sock} -c listen_addresses='' -p {port} -c max_connections=100"
        start = subprocess.run(
            [*pg_ctl, "-l", str(folder / "server.log"), "-w", "-t", "60", "-o", options, "start"],
            capture_output=True,
            text=True,
            cwd="/",
        )
        if start.returncode != 0:
            log = (folder / "server.log").read_text(errors="replace")[-500:]
            raise BackendUnavailable(f"the PostgreSQL server did not start: {log.strip()}")
        started = True
        ensure_password_group(f"postgresql+psycopg://postgres@/postgres?host={sock}&port={port}")
        yield f"postgresql+psycopg://postgres@/postgres?host={sock}&port={port}"
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, cwd="/")
        shutil.rmtree(folder, ignore_errors=True)
