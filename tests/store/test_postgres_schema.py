"""Many processes opening one empty PostgreSQL database at once all get the schema, created
once: schema creation holds a PostgreSQL advisory lock.

Starts a real PostgreSQL server (initdb in a temporary folder, Unix socket only). Without one
(no server programs, no psycopg) the test is skipped with the reason, except under CI=true,
where a missing server is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from trialbook.store import SCHEMA_REVISION, schema_state
from trialbook.testing.stores import BackendUnavailable, local_postgres, new_postgres_database

PROCESSES = 12

#: One process: wait for the common start time, then open the store creating the schema.
OPEN = """
import sys, time
from trialbook.store import connect
url, start = sys.argv[1], float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
connect(url, create=True).close()
"""


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    try:
        with local_postgres() as url:
            yield url
    except BackendUnavailable as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the PostgreSQL tests: {e}")
        pytest.skip(str(e))


@pytest.mark.parametrize("trial", range(3))
def test_processes_creating_the_schema_at_once_all_succeed(server: str, trial: int) -> None:
    url = new_postgres_database(server)
    start = time.time() + 2.0  # every process imported and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, url, repr(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    outcomes = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for proc in procs:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    failed = [err.strip().splitlines()[-1] for code, err in outcomes if code != 0]
    assert failed == [], failed
    assert schema_state(url) == ("current", SCHEMA_REVISION)

    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert versions == [(SCHEMA_REVISION,)]
