"""docs/dashboard.md followed as a new user would: a workspace made by a small script, the
dashboard started with ``trialbook ui --port 0`` as a real process, every page and the
documented API calls fetched, Ctrl-C. And the imports stay light: ``import trialbook`` and
``import trialbook.cli`` load no server, and ``trialbook --help`` lists ``ui`` and ``tail``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path

HEAVY = (
    "fastapi",
    "uvicorn",
    "starlette",
    "pandas",
    "sqlalchemy",
    "plotly",
    # optional integrations, imported only when used
    "ray",
    "submitit",
    "psycopg",
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_importing_trialbook_and_its_cli_loads_no_server_or_dataframe_library() -> None:
    code = (
        f"import sys, trialbook, trialbook.cli; print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
        timeout=120,
    )

    assert out.stdout.strip() == "[]"


def test_the_cli_help_lists_ui_and_tail() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "trialbook", "--help"],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
        timeout=120,
    )
    commands = {
        line.split()[0]
        for line in out.stdout.splitlines()
        if line.startswith("  ") and line.split()
    }

    assert {"ui", "tail", "ls"} <= commands


def _fetch(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.headers["content-type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read()


def test_the_documented_start_serves_every_page_and_api_call(tmp_path: Path) -> None:
    script = tmp_path / "make.py"
    script.write_text(
        textwrap.dedent("""
        import trialbook
        for seed in (1, 2):
            with trialbook.start_run("demo", {"lr": 0.001}, seed=seed, name=f"demo-s{seed}",
                                     system_metrics=False, capture_packages=False) as run:
                print("training", seed)
                for step in range(50):
                    run.log({"loss": 1 / (step + 1)}, step=step)
    """)
    )
    subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=_env(),
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "trialbook", "ui", "--port", "0"],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()  # stdout holds only the URL
        base = url.rstrip("/")
        assert base.startswith("http://127.0.0.1:")

        for page in ["/", "/runs/demo-s1", "/compare?runs=demo-s1&runs=demo-s2", "/leaderboard"]:
            status, kind, body = _fetch(base + page)
            assert status == 200 and kind.startswith("text/html"), page
            assert b"<script" in body and b'src="/static/' in body, page
        status, kind, body = _fetch(base + "/static/vendor/plotly.min.js")
        assert status == 200 and len(body) > 100_000

        status, _, body = _fetch(base + "/api/runs?where=params.lr=0.001&sort=loss&limit=5")
        runs = json.loads(body)
        assert status == 200 and runs["total"] == 2 and runs["limit"] == 5
        status, _, body = _fetch(base + "/api/groups")
        group = json.loads(body)["groups"][0]
        assert group["n"] == 2 and group["seeds"] == [1, 2]
        status, _, body = _fetch(f"{base}/compare?groups={group['ref']}")
        assert status == 200
        status, _, body = _fetch(f"{base}/api/runs/demo-s1/history?key=loss")
        assert status == 200 and len(json.loads(body)["y"]) == 50
        status, _, body = _fetch(base + "/api/openapi.json")
        assert status == 200 and "/api/runs/{ref}/history" in json.loads(body)["paths"]
        status, _, body = _fetch(base + "/docs")
        assert status == 404 and json.loads(body)["detail"].endswith(".")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            code = server.wait(timeout=30)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    assert code == 0


def test_ls_watch_into_a_pipe_closed_early_stops_quietly_with_exit_0(tmp_path: Path) -> None:
    import trialbook

    root = tmp_path / "experiments"
    with trialbook.start_run(
        "demo", {"lr": 0.1}, root=root, system_metrics=False, capture_packages=False
    ) as run:
        run.log({"loss": 1.0})
    proc = subprocess.Popen(
        [sys.executable, "-m", "trialbook", "ls", "--root", str(root), "--watch", "0.1"],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith("trialbook ls")
    proc.stdout.close()  # as `| head -1` does
    try:
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert code == 0
    assert "error" not in proc.stderr.read()
