"""A password in the store URL stays off disk when runs go to Slurm: the Runner hands each
run its store through TRIALBOOK_STORE, and nothing may write that to the shared folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from runner_helpers import Workspace, plan, planned

from trialbook.execution import Runner
from trialbook.execution._slurm import SlurmExecutor
from trialbook.testing.stores import password_database


@pytest.fixture
def secret_url(postgres_server: str) -> Iterator[tuple[str, str]]:
    """A store URL whose role logs in with the password in it; (url, password)."""
    with password_database(postgres_server, "tb_slurm") as (url, password, _):
        yield url, password


@pytest.mark.slow
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
