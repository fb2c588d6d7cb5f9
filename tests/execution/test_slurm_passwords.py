"""A password in the store URL stays off disk when runs go to Slurm: the Runner hands each
run its store through TRIALBOOK_STORE, and nothing may write that to the shared folder."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runner_helpers import Workspace, plan, planned
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from trialbook.execution import Runner
from trialbook.execution._slurm import SlurmExecutor
from trialbook.testing.stores import PASSWORD_GROUP, ensure_password_group


@pytest.fixture
def secret_url(postgres_server: str) -> Iterator[tuple[str, str]]:
    """A store URL whose role logs in with the password in it; (url, password)."""
    ensure_password_group(postgres_server)
    tag = secrets.token_hex(4)
    role, database, password = f"tb_slurm_{tag}", f"tb_slurm_{tag}", f"Pw-{secrets.token_hex(12)}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(
                text(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE {PASSWORD_GROUP}")
            )
            conn.execute(text(f"CREATE DATABASE {database} OWNER {role}"))
        url = make_url(postgres_server).set(username=role, password=password, database=database)
        yield url.render_as_string(hide_password=False), password
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
    finally:
        admin.dispose()


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="SlurmExecutor passes task.env (TRIALBOOK_STORE with the password) as an argument "
    "of submitit's submit, which pickles it into <folder>/<job>_submitted.pkl on disk",
)
def test_a_password_in_the_store_url_is_not_written_to_the_slurm_folder(
    slurm_cluster: Any, ws: Workspace, secret_url: tuple[str, str]
) -> None:
    url, password = secret_url
    folder = ws.root / ".slurm"
    with SlurmExecutor(1, grace=3.0, folder=folder) as executor:
        runner = Runner(
            root=ws.root, store_url=url, cwd=ws.cwd, progress="quiet", grace=3.0,
            executor=executor,
        )  # fmt: skip
        result = runner.run(plan(planned("ok", value=1)))
    assert result.ok, [o.error for o in result.failed]  # the job logged in with the password

    holding = [
        str(p.relative_to(ws.cwd))
        for p in sorted(Path(ws.cwd).rglob("*"))
        if p.is_file() and password.encode() in p.read_bytes()
    ]
    assert holding == []
