"""Every Store backend, built fresh and torn down, for one test suite run against all of them.

``STORE_BACKENDS`` names the backends; :func:`make_store` builds one. Adding a backend is one
entry in ``_FACTORIES``: a context manager that takes a temporary folder and yields an empty,
schema-checked Store. A backend that needs a server (PostgreSQL, whose factory reads
``TRIALBOOK_TEST_POSTGRES_URL``) raises :class:`BackendUnavailable` when none is configured, so a
test suite can skip it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from trialbook.store._base import Store
from trialbook.store._connect import connect
from trialbook.store._liveness import LivenessPolicy

__all__ = ["POSTGRES_URL_ENV", "STORE_BACKENDS", "BackendUnavailable", "make_store"]

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
