"""``trialbook run --executor ray --address ray://HOST:PORT``: the session's Ray reached through
its Ray Client server (the ``ray_client`` fixture), as from a machine outside the cluster.

The runs' processes, their files and the Store are on this machine, which stands for a cluster
that shares the workspace's folders and reaches the same Store. Ctrl-C through Ray Client is
in test_ray_cli.py, beside the same test through the head's address.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from runner_helpers import Workspace, wait_until
from test_ray_cli import finals
from test_ray_runner import RAY_TASKS, alive, cli, write_config

import trialbook


@pytest.fixture
def client_ws(ws: Workspace, ray_client: str) -> Iterator[Workspace]:
    (ws.cwd / "raytasks.py").write_text(textwrap.dedent(RAY_TASKS))
    yield ws


SUITE = """
suite: small
base: {experiment: {name: small, entrypoint: "tasks:ok"}}
seeds: [1, 2]
experiments:
  - name: greeting
    set: {+value: 0.5}
  - name: drawn
    set: {experiment.entrypoint: "tasks:seeds"}
"""


def _measured(root: Path) -> dict[tuple[str, int | None], tuple[str, dict[str, float]]]:
    """``finals`` without the machine's own series (sampled only where the worker has it on)."""
    return {
        key: (status, {k: v for k, v in metrics.items() if not k.startswith("system/")})
        for key, (status, metrics) in finals(root).items()
    }


def _folders(root: Path) -> dict[tuple[str, int | None], Path]:
    with trialbook.open_store(root) as db:
        return {(r.name, r.seed): root / (r.folder or "") for r in db.list_runs()}


def test_a_suite_gives_what_local_gives_with_output_in_the_files_and_on_screen(
    client_ws: Workspace, ray_client: str
) -> None:
    (client_ws.cwd / "suite.yaml").write_text(SUITE)
    local = cli(client_ws, "suite.yaml", "--root", "local-experiments")
    out, err = local.communicate(timeout=300)
    assert local.returncode == 0, (out, err)

    proc = cli(client_ws, "suite.yaml", "--executor", "ray", "--address", ray_client, "--jobs", "2")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out, err)
    assert err == "", err  # nothing of Ray Client's own log

    on_client = _measured(client_ws.root)
    assert on_client == _measured(client_ws.cwd / "local-experiments")
    assert len(on_client) == 4 and {s for s, _ in on_client.values()} == {"completed"}
    assert "draw" in on_client[("drawn", 1)][1]
    # Each run's output reached its own file, and the screen while it ran.
    for seed in (1, 2):
        folder = _folders(client_ws.root)[("greeting", seed)]
        assert (folder / "stdout.log").read_text() == "hello from 0.5\n"
    assert out.count("hello from 0.5") == 2


FAILING = """
suite: failing
base: {experiment: {name: boom, entrypoint: "tasks:boom"}}
experiments:
  - name: boom
  - name: held
    set: {experiment.entrypoint: "raytasks:held"}
    seeds: [2]
"""


def test_a_failing_run_shows_its_stderr_and_a_timeout_kills_the_remote_process(
    client_ws: Workspace, ray_client: str
) -> None:
    # One `trialbook run` for both: each through Ray Client costs a connection (seconds).
    (client_ws.cwd / "suite.yaml").write_text(FAILING)
    args = ("--timeout", "3", "--jobs", "2", "--executor", "ray", "--address", ray_client)
    proc = cli(client_ws, "suite.yaml", *args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, (out, err)
    assert "failed boom in" in out and "ValueError: boom at value None" in out
    assert "Traceback (most recent call last):" in err  # the run's own stderr, live
    with trialbook.open_store(client_ws.root) as db:
        runs = {r.name: r for r in db.list_runs()}
    boom, held = runs["boom"], runs["held"]
    assert boom.status == "failed" and "ValueError: boom at value None" in (boom.error or "")
    stderr = (client_ws.root / (boom.folder or "") / "stderr.log").read_text()
    assert stderr.startswith("Traceback") and stderr.endswith("ValueError: boom at value None\n")
    # --timeout stopped the process where it ran, through its actor.
    assert held.status == "killed" and held.error == "timed out after 3 s (--timeout)"
    pid = int((client_ws.cwd / "held-2").read_text())
    wait_until(lambda: not alive(pid), f"run process {pid} to end", deadline=10)


def test_a_killed_ray_worker_marks_its_run_crashed_and_leaves_no_process(
    client_ws: Workspace, ray_client: str
) -> None:
    marker = client_ws.cwd / "on-worker.pid"
    pids: list[int] = []

    def kill_the_worker() -> None:
        wait_until(lambda: marker.exists() and " " in marker.read_text(), "the run to start")
        run_pid, _ = map(int, marker.read_text().split())
        # The nearest ancestor that Ray named is the actor's worker (the run's parent is the
        # actor's fork server).
        worker = next(p for p in psutil.Process(run_pid).parents() if p.name().startswith("ray::"))
        pids.append(run_pid)
        os.kill(worker.pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_the_worker)
    killer.start()
    try:
        config = write_config(client_ws, "raytasks:on_worker")
        proc = cli(client_ws, config, "--executor", "ray", "--address", ray_client)
        out, err = proc.communicate(timeout=300)
    finally:
        killer.join()
    assert proc.returncode == 1, (out, err)
    with trialbook.open_store(client_ws.root) as db:
        [run] = db.list_runs()
    assert run.status == "crashed", run
    assert (run.error or "").startswith("its Ray worker on 127.0.0.1 died ("), run.error
    assert pids
    wait_until(lambda: not alive(pids[0]), f"run process {pids[0]} to end", deadline=10)


@pytest.mark.parametrize(
    ("here", "said"),
    [
        (
            "import ray; ray.__version__ = '2.0.1'",
            "The Ray cluster at --address {address} runs Ray {ray} on Python {python}, this "
            "machine Ray 2.0.1 on Python {python}; Ray Client needs the same Ray and the same "
            "Python (major.minor) on both.",
        ),
        (
            "import trialbook; trialbook.__version__ = '0.0.1'",
            "The Ray cluster at --address {address} has trialbook {trialbook}; install "
            "trialbook 0.0.1 (and its ray extra) where the cluster runs, as on this machine.",
        ),
    ],
    ids=["another-ray", "another-trialbook"],
)
def test_a_cluster_with_other_versions_is_one_sentence_exit_2_and_nothing_written(
    client_ws: Workspace, ray_client: str, here: str, said: str
) -> None:
    import ray

    # This process as another version would be: the cluster's side is the session's.
    cli_main = f"{here}; from trialbook.cli import main; main()"
    config = write_config(client_ws, "tasks:ok")
    args = ("run", config, "--executor", "ray", "--address", ray_client)
    proc = subprocess.run(
        [sys.executable, "-c", cli_main, *args],
        cwd=client_ws.cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    python = ".".join(map(str, sys.version_info[:3]))
    expected = said.format(
        address=ray_client, ray=ray.__version__, python=python, trialbook=trialbook.__version__
    )
    assert proc.stderr == f"error: {expected}\n" and proc.stdout == ""
    assert not client_ws.root.exists()
