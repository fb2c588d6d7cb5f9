"""A password in a store URL never shows: not in any command's output or error, not in a run
folder (meta.json, config, summary, the runner's stdout/stderr logs), not in the dashboard's
printed URL or API answers, not in an exception or a repr. The child processes of a run still
get it (through TRIALBOOK_STORE), or they could not log in.

Runs on the session's real PostgreSQL server (tests/conftest.py) with a role that must log in
with its password (``local_postgres`` asks the members of ``PASSWORD_GROUP`` for one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

import trialbook
from trialbook._redact import hide_passwords
from trialbook.errors import ConfigError, StoreError, TrialbookError
from trialbook.store import connect, safe_url
from trialbook.testing.stores import password_database

TASKS = """
import sys

def train(config, run):
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    print("training", config["lr"])
    print("a warning on stderr", file=sys.stderr)
    return {"acc": config["lr"] * 10}

def broken(config, run):
    raise RuntimeError("broken on purpose")
"""

SUITE = """
suite: secret
base:
  experiment: {name: secret, entrypoint: "tasks:train"}
  lr: 0.01
seeds: [1]
sweep:
  lr: [0.01, 0.02]
"""

BROKEN = """
experiment: {name: broken, entrypoint: "tasks:broken"}
seed: 1
"""

SCRIPT = """
import sys
import trialbook

with trialbook.start_run(
    "script", {"lr": 0.5}, root=sys.argv[2], store_url=sys.argv[1],
    system_metrics=False, capture_packages=False,
) as run:
    run.log({"loss": 0.5}, step=0)
print(run.id)
"""


@dataclass(frozen=True)
class Secret:
    url: str  # with the password
    password: str
    role: str


@pytest.fixture
def secret(postgres_server: str) -> Iterator[Secret]:
    """A role that logs in with a password, owning a new empty database."""
    with password_database(postgres_server) as (url, password, role):
        yield Secret(url, password, role)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    src = str(Path(trialbook.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["TRIALBOOK_SYSTEM_METRICS"] = "0"
    return env


def _trialbook(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trialbook", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )


def _around(text: str, needle: str) -> str:
    """The text around the first ``needle`` in ``text`` ('' when there is none)."""
    at = text.find(needle)
    return "" if at < 0 else text[max(at - 120, 0) : at + 40]


def _files_holding(folder: Path, needle: str) -> list[str]:
    return [
        str(p.relative_to(folder))
        for p in sorted(folder.rglob("*"))
        if p.is_file() and needle.encode() in p.read_bytes()
    ]


def test_the_role_needs_its_password(secret: Secret) -> None:
    """The server checks the password, so a run that completes below really used it."""
    wrong = make_url(secret.url).set(password="not-the-password")
    with pytest.raises(StoreError) as failed:
        connect(wrong.render_as_string(hide_password=False))
    message = str(failed.value)
    assert "password authentication failed" in message, message
    assert "not-the-password" not in message and secret.password not in message
    assert f"{secret.role}:***@" in message  # the store is named, its password masked


def test_a_password_never_leaves_the_process_that_was_given_it(
    secret: Secret, tmp_path: Path
) -> None:
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    (tmp_path / "suite.yaml").write_text(SUITE)
    (tmp_path / "broken.yaml").write_text(BROKEN)
    (tmp_path / "script.py").write_text(SCRIPT)
    root = tmp_path / "ws"
    store = ["--root", str(root), "--store", secret.url]
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}

    outputs["run"] = ran = _trialbook(tmp_path, "run", "suite.yaml", *store, "--jobs", "2")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    outputs["run broken"] = _trialbook(tmp_path, "run", "broken.yaml", *store)
    assert outputs["run broken"].returncode == 1, outputs["run broken"].stderr
    script = subprocess.run(
        [sys.executable, "script.py", secret.url, str(root)],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert script.returncode == 0, script.stderr
    outputs["script"] = script

    with trialbook.open_store(root, secret.url) as db:
        runs = {r.name: r for r in db.list_runs()}
        # Each child logged in with the password it was handed, and recorded its work.
        assert {r.status for r in runs.values()} == {"completed", "failed"}
        assert len(runs) == 4
        assert db.metric_history(runs["script"].id, "loss").values == (0.5,)
        some = next(r for r in runs.values() if r.experiment == "secret")
        meta = json.loads((Path(some.folder or "") / "meta.json").read_text())
        script_meta = json.loads((Path(runs["script"].folder or "") / "meta.json").read_text())
    # The script's command line held the URL: meta.json keeps it, password masked.
    assert script_meta["command"][1] == safe_url(secret.url)
    assert script_meta["environment"]["command"][1] == safe_url(secret.url)
    assert "***" in safe_url(secret.url)
    assert meta["command"]  # a runner's child records its own command line too

    run_id = some.id
    reads = {
        "ls": ["ls", *store],
        "ls --json": ["ls", *store, "--json"],
        "show": ["show", run_id, *store],
        "show --json": ["show", run_id, *store, "--json"],
        "show broken": ["show", "broken", *store],
        "stats": ["stats", *store],
        "stats --json": ["stats", *store, "--json"],
        "db status": ["db", "status", *store],
        "db status --json": ["db", "status", *store, "--json"],
        "db upgrade": ["db", "upgrade", *store],
        "export": ["export", "--all", *store],
        "export csv": ["export", "--all", "-f", "csv", *store],
        "no such run": ["show", "no-such-run", *store],
        "tail": ["tail", run_id, *store],
    }
    for name, args in reads.items():
        outputs[name] = _trialbook(tmp_path, *args)
    assert outputs["no such run"].returncode == 2
    assert all(outputs[n].returncode == 0 for n in reads if n != "no such run"), {
        n: outputs[n].stderr for n in reads
    }
    assert safe_url(secret.url) in outputs["stats"].stdout  # the store is named, masked

    leaked = {
        name: _around(out.stdout + out.stderr, secret.password) for name, out in outputs.items()
    }
    assert {name: where for name, where in leaked.items() if where} == {}
    assert _files_holding(tmp_path, secret.password) == []


def test_the_dashboard_shows_no_password(secret: Secret, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    with trialbook.start_run(
        "dash", {"lr": 0.1}, root=root, store_url=secret.url, system_metrics=False
    ) as run:
        run.log({"loss": 0.25}, step=0)
    ui = ["ui", "--root", str(root), "--store", secret.url, "--port", "0"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialbook", *ui],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        answers = [url]
        pages = ("", f"runs/{run.id}", "api/session", "api/runs", f"api/runs/{run.id}")
        for path in (*pages, "api/facets", f"api/runs/{run.id}/metrics"):
            got = httpx.get(url + path, timeout=60)
            assert got.status_code == 200, (path, got.text)
            answers.append(got.text)
        got = httpx.get(url + "api/runs/no-such-run", timeout=60)
        answers.append(got.text)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    answers.append(err)
    assert [a for a in answers if secret.password in a] == []


def test_errors_and_reprs_mask_the_password(secret: Secret, tmp_path: Path) -> None:
    ws = trialbook.Workspace.resolve(tmp_path, secret.url)
    assert secret.password not in repr(ws) and "***" in repr(ws)
    with pytest.raises(TrialbookError) as empty:  # no tables yet, and not asked to create
        trialbook.open_store(tmp_path, secret.url)
    assert secret.password not in str(empty.value), str(empty.value)
    with trialbook.open_store(tmp_path, secret.url, create=True) as db:
        assert secret.password not in repr(db.stats())
        assert db.stats().url == safe_url(secret.url)
    # A URL that does not parse (a port that is no number) is still masked.
    bad = f"postgresql+psycopg://{secret.role}:{secret.password}@127.0.0.1:notaport/x"
    with pytest.raises(ConfigError) as unparsable:
        trialbook.open_store(tmp_path, bad)
    assert secret.password not in str(unparsable.value)
    assert secret.password not in repr(unparsable.value.value)
    assert unparsable.value.__cause__ is None and unparsable.value.__suppress_context__


@pytest.mark.parametrize(
    ("shown", "masked"),
    [
        ("postgresql://me:s3cret@db/runs", "postgresql://me:***@db/runs"),
        ("postgresql+psycopg://me:s3/cr:et@db:5432/runs", "postgresql+psycopg://me:***@db:5432/runs"),
        ("postgresql://me@db/runs?password=s3cret&sslmode=require", "postgresql://me@db/runs?password=***&sslmode=require"),
        ("postgresql://me:s3cret@db:port/runs", "postgresql://me:***@db:port/runs"),
        ("sqlite:///tmp/a:b@c.db", "sqlite:///tmp/a:b@c.db"),
        ("postgresql://db/runs", "postgresql://db/runs"),
    ],
)  # fmt: skip
def test_safe_url_masks_every_password_form(shown: str, masked: str) -> None:
    assert safe_url(shown) == masked
    assert "s3cret" not in hide_passwords(f"could not open {shown} today")
