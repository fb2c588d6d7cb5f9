"""Many processes opening one empty PostgreSQL database at once all get the schema, created
once: schema creation holds a PostgreSQL advisory lock.

Runs on the session's real PostgreSQL server (``postgres_server`` in tests/conftest.py).
Without one (no server programs, no psycopg) the test is skipped with the reason, except under
CI=true, where a missing server is a failure.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from trialbook.store import SCHEMA_REVISION, schema_state
from trialbook.testing.stores import new_postgres_database

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


@pytest.mark.parametrize("trial", range(3))
def test_processes_creating_the_schema_at_once_all_succeed(
    postgres_server: str, trial: int
) -> None:
    url = new_postgres_database(postgres_server)
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
