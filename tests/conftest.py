"""Fixtures every test folder may use: one headless Chromium, one PostgreSQL server and one
local Ray for the whole session.

Playwright's sync API keeps an event loop running in the main thread while it is started, so
the session shares one instance (a second ``sync_playwright()`` in the same process fails).
Under ``CI=true`` a missing Chromium, Playwright, PostgreSQL or Ray fails the tests that use it
(through :func:`trialbook.testing.skip_unavailable`); elsewhere they are skipped with the
reason."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trialbook.testing import BackendUnavailable
from trialbook.testing.stores import postgres_server as shared_postgres_server
from trialbook.testing.stores import skip_unavailable

CHROMIUM = os.environ.get("TRIALBOOK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of a PostgreSQL server whose user may create databases: the one
    ``TRIALBOOK_TEST_POSTGRES_URL`` names, or a throwaway one started for the session (initdb
    in a temporary folder, Unix socket only). Tests make their own databases on it
    (:func:`trialbook.testing.stores.new_postgres_database`). The server is the one
    ``make_store("postgresql", ...)`` uses too (:func:`trialbook.testing.stores.postgres_server`),
    stopped when the test process exits."""
    try:
        return shared_postgres_server()
    except BackendUnavailable as e:
        skip_unavailable(e)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's ``chromium``) driven by Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        skip_unavailable(BackendUnavailable(f"Playwright is not installed ({e})."))
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        skip_unavailable(
            BackendUnavailable(
                f"Chromium is not at {CHROMIUM}; install Debian's chromium package "
                "(or set TRIALBOOK_TEST_CHROMIUM)."
            )
        )
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def index_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """Runs a test twice: with each workspace's own SQLite index (None), and with
    ``TRIALBOOK_STORE`` naming a new database on the session's PostgreSQL server (its URL),
    which every workspace the test opens, and every process it starts, then uses.

    A test that also clears ``TRIALBOOK_STORE`` in a fixture asks for this one after it."""
    if request.param == "sqlite":
        monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
        return None
    from trialbook.testing.stores import new_postgres_database

    url = new_postgres_database(request.getfixturevalue("postgres_server"))
    monkeypatch.setenv("TRIALBOOK_STORE", url)
    return url


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[Any]:
    """A single-node Slurm cluster with accounting for the session
    (:func:`trialbook.testing.slurm.shared_cluster`; ``SLURM_CONF`` points at it), stopped at
    the end of the session."""
    from trialbook.testing.slurm import shared_cluster, stop_shared_cluster

    try:
        cluster = shared_cluster()
    except BackendUnavailable as e:
        skip_unavailable(e)
    try:
        yield cluster
    finally:
        stop_shared_cluster()


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[str]:
    """The address (``127.0.0.1:PORT``) of a local Ray with 2 CPUs that this test process
    has joined (``ray.init``, no dashboard), started once for the session (5-10 s): a
    RayExecutor built here uses it as it is, and a ``trialbook run --executor ray --address``
    subprocess joins it."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        skip_unavailable(
            BackendUnavailable(
                "Ray is not installed; install the ray extra: pip install 'trialbook[ray]'."
            )
        )
    import logging

    from trialbook.execution._ray import _import_ray

    ray = _import_ray(loopback=True)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        _node_ip_address="127.0.0.1",
    )
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def ray_client(ray_cluster: str) -> str:
    """``ray://127.0.0.1:PORT``: a Ray Client server on the session's Ray, started on first use
    as ``ray start --head --ray-client-server-port=PORT`` starts one (a proxy that starts one
    server process per client), and stopped with that Ray. It and the processes it starts
    inherit this test process's environment (its ``PYTHONPATH``, and ``RAY_AUTH_MODE=token``
    that the local Ray set), as ``trialbook run`` subprocesses do."""
    import socket
    import time

    import ray

    # The node object of a Ray this process started: Ray has no public call that adds a
    # client server to it, and `ray start` would leave a cluster that `ray stop` (which stops
    # every Ray of this user) must end.
    node = getattr(ray._private.worker, "_global_node", None)
    if node is None or not hasattr(node, "start_ray_client_server"):
        skip_unavailable(
            BackendUnavailable(
                f"Ray {ray.__version__} has no node.start_ray_client_server; the ray_client "
                "fixture needs another way to start a Ray Client server."
            )
        )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    node._ray_params.ray_client_server_port = port
    # The server forks a process per client while its gRPC threads are busy; with gRPC's
    # fork handlers on, about one start in ten died at once (Ray 2.60: "SpecificServer
    # startup failed", and the client gave up after 30 s). It always execs after forking,
    # the case gRPC documents this switch for.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GRPC_ENABLE_FORK_SUPPORT", "false")
        node.start_ray_client_server()  # binds the node's address, 127.0.0.1
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError as e:
            if time.monotonic() > deadline:
                skip_unavailable(BackendUnavailable(f"The Ray Client server did not start ({e})."))
            time.sleep(0.1)
    return f"ray://127.0.0.1:{port}"
