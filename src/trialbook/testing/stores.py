"""Every Store backend, built fresh and torn down, for one test suite run against all of them.

``STORE_BACKENDS`` names the backends; :func:`make_store` builds one. Adding a backend is one
entry in ``_FACTORIES``: a context manager that takes a temporary folder and yields an empty,
schema-checked Store. A backend that needs a server (PostgreSQL, whose factory reads
``TRIALBOOK_TEST_POSTGRES_URL``) raises :class:`BackendUnavailable` when none is configured, so a
test suite can skip it.
"""

from __future__ import annotations

import glob
import os
import random
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from trialbook.store._base import Store
from trialbook.store._connect import connect
from trialbook.store._liveness import LivenessPolicy

__all__ = [
    "POSTGRES_URL_ENV",
    "STORE_BACKENDS",
    "BackendUnavailable",
    "local_postgres",
    "make_store",
]

#: Environment variable with the URL of a PostgreSQL server whose user may create databases.
POSTGRES_URL_ENV = "TRIALBOOK_TEST_POSTGRES_URL"

StoreFactory = Callable[[Path, LivenessPolicy | None], AbstractContextManager[Store]]


class BackendUnavailable(Exception):
    """The backend needs something this machine lacks (a server URL, a driver)."""


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


@contextmanager
def _postgresql(tmp_path: Path, liveness: LivenessPolicy | None) -> Iterator[Store]:
    """A fresh database on the server at ``TRIALBOOK_TEST_POSTGRES_URL``, dropped afterwards.

    Not yet in ``_FACTORIES``: add ``"postgresql": _postgresql`` once CI runs a server.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = os.environ.get(POSTGRES_URL_ENV)
    if not server:
        raise BackendUnavailable(
            f"Set {POSTGRES_URL_ENV} to a PostgreSQL URL whose user may create databases, "
            "e.g. postgresql+psycopg://postgres@localhost/postgres."
        )
    name = f"trialbook_test_{secrets.token_hex(6)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
        store = connect(url, create=True, liveness=liveness)
        try:
            yield store
        finally:
            store.close()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


_FACTORIES: dict[str, StoreFactory] = {
    "sqlite-file": _sqlite_file,
    "sqlite-memory": _sqlite_memory,
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
        BackendUnavailable: the backend cannot be built here (no server configured).
    """
    try:
        factory = _FACTORIES[backend]
    except KeyError:
        raise ValueError(
            f"Unknown store backend {backend!r}; use one of {', '.join(STORE_BACKENDS)}."
        ) from None
    with factory(Path(tmp_path), liveness) as store:
        yield store


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
    PostgreSQL refuses to run as root, so as root it runs as ``nobody``.

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
        as_user = ["runuser", "-u", "nobody", "--"]
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
        yield f"postgresql+psycopg://postgres@/postgres?host={sock}&port={port}"
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, cwd="/")
        shutil.rmtree(folder, ignore_errors=True)
