"""Every shell command of docs/team.md runs, in order, in one shell, against the session's real
PostgreSQL server, and does what the page says: the team store is created, two mount points of
one shared folder see the same runs, a second runner of the suite runs nothing twice, a solo
workspace joins with ``trialbook db copy --folders`` and comes back as a SQLite workspace.

What differs from the page, each for a reason:

* the server: ``db.lab.example`` (port 5432) becomes the test server (``PGHOST``/``PGPORT``,
  ``?host=...&port=...`` in URLs, the ``~/.pgpass`` line), and ``-U postgres`` its admin role;
  the role ``lab`` and the databases ``trialbook*`` get a random suffix (a server given with
  TRIALBOOK_TEST_POSTGRES_URL outlives the test);
* the shared folder: ``/mnt/lab`` and ``/data/lab`` become two paths under a temporary folder,
  the second a symbolic link to the first (two mounts of one share, on one machine);
* ``pip install`` is not run (the test's environment has the extra);
* ``HOME`` is a temporary folder (``~/.pgpass``, ``~/lab-archive``), and the solo workspace
  ``./experiments`` that section 5 joins is made first, with two runs.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import trialbook

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "team.md"


def bash_blocks(page: Path) -> list[str]:
    """The lines of the page's ```bash blocks, in order."""
    return [
        line
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(encoding="utf-8"), re.S)
        for line in block.splitlines()
        if line.strip()
    ]


def adapted(lines: list[str], server: str, tmp: Path, tag: str) -> list[str]:
    """The page's lines for the test's server; the role and databases get a ``tag`` so that a
    server that outlives the test (TRIALBOOK_TEST_POSTGRES_URL) can run it again."""
    u = make_url(server)
    host = str(u.query.get("host") or u.host or "localhost")
    port = str(u.query.get("port") or u.port or 5432)
    role, db = f"lab_{tag}", f"trialbook_{tag}"
    out = []
    for line in lines:
        if line.startswith("pip install "):
            continue
        line = line.replace("ROLE lab ", f"ROLE {role} ").replace("OWNER lab", f"OWNER {role}")
        line = line.replace("//lab@", f"//{role}@").replace(":trialbook:lab:", f":{db}:{role}:")
        line = line.replace(":*:lab:", f":*:{role}:")
        line = re.sub(r"DATABASE trialbook(\w*) ", rf"DATABASE {db}\1 ", line)
        line = line.replace("PGHOST=db.lab.example PGPORT=5432", f"PGHOST={host} PGPORT={port}")
        line = line.replace("db.lab.example:5432:", f"{host}:{port}:")
        line = re.sub(
            r"@db\.lab\.example/trialbook(\w*)", rf"@/{db}\1?host={host}&port={port}", line
        )
        line = line.replace("-U postgres", f"-U {u.username or 'postgres'}")
        line = line.replace("/mnt/lab", f"{tmp}/mnt/lab").replace("/data/lab", f"{tmp}/data/lab")
        assert "db.lab.example" not in line, line
        out.append(line)
    return out


def solo_workspace(root: Path) -> list[str]:
    ids = []
    for seed in (1, 2):
        with trialbook.start_run(
            "solo", {"lr": 0.1}, seed=seed, root=root, system_metrics=False,
            capture_packages=False,
        ) as run:  # fmt: skip
            for step in range(50):
                run.log({"loss": 1 / (step + 1)}, step=step)
            ids.append(run.id)
    return ids


def test_every_command_of_team_md_runs_against_a_real_server(
    postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    (work / "examples").symlink_to(REPO / "examples")  # the suite of section 4
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "lab").symlink_to(tmp_path / "mnt" / "lab")
    solo = solo_workspace(work / "experiments")

    tag = secrets.token_hex(4)
    script = "set -euo pipefail\n" + "\n".join(
        adapted(bash_blocks(PAGE), postgres_server, tmp_path, tag)
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRIALBOOK_", "PG"))}
    env.update(
        HOME=str(home),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(REPO / "src"),
        TRIALBOOK_SYSTEM_METRICS="0",
        COLUMNS="200",
    )
    password = make_url(postgres_server).password
    if password:
        env["PGPASSWORD"] = str(password)
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout

    # Section 2: the schema was created, and is current.
    assert "state     current" in out
    # Section 4: the second runner (the other mount point) found every run completed.
    shared = tmp_path / "mnt" / "lab" / "experiments"
    assert sorted(p.name for p in shared.iterdir() if p.is_dir())
    assert re.search(r"(\d+) run\(s\): \1 skipped", out), out
    # The team store keeps the run folders relative to the root, so both mounts find them.
    team_url = make_url(postgres_server).set(database=f"trialbook_{tag}")
    team = team_url.render_as_string(hide_password=False)
    engine = create_engine(team)
    try:
        with engine.connect() as conn:
            folders = [row[0] for row in conn.execute(text("SELECT folder FROM runs"))]
    finally:
        engine.dispose()
    assert len(folders) == 4 and not any(os.path.isabs(f) for f in folders), folders
    for mount in ("mnt", "data"):
        with trialbook.open_store(tmp_path / mount / "lab" / "experiments", team) as db:
            assert all(Path(str(r.folder)).is_dir() for r in db.list_runs())
            assert {Path(str(r.folder)).parent.parent.parent.name for r in db.list_runs()} == {
                mount
            }
    # Section 5: the solo runs were copied in, with their folders, and back out.
    alice, archive = tmp_path / "mnt" / "lab" / "alice", home / "lab-archive"
    assert "every table's row count matches the source" in out
    for run_id in solo:
        short = run_id.rsplit("_", 1)[-1]
        assert any(p.name.endswith(short) for p in alice.iterdir())
        assert any(p.name.endswith(short) for p in archive.iterdir())
    with trialbook.open_store(archive) as db:
        assert sorted(r.id for r in db.list_runs()) == sorted(solo)
        assert len(db.metric_history(solo[0], "loss")) == 50
    # The password of section 1 is never printed (the URLs carry none; .pgpass holds it).
    assert "change-me" not in out + done.stderr
