"""``trialbook run --executor ray`` as a user types it: Ctrl-C, resume, a local Ray of its
own, and the addresses where no cluster answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from runner_helpers import Workspace, statuses, wait_until
from test_ray_runner import RAY_TASKS, alive, cli, ray_processes, write_config

import trialbook
from trialbook.errors import ConfigError


@pytest.fixture
def cli_ws(ws: Workspace) -> Iterator[Workspace]:
    (ws.cwd / "raytasks.py").write_text(textwrap.dedent(RAY_TASKS))
    yield ws


def finals(root: Path) -> dict[tuple[str, int | None], tuple[str, dict[str, float]]]:
    """Each run's status and final metrics, by name and seed."""
    with trialbook.open_store(root) as db:
        runs = db.list_runs()
        summaries = db.metric_summaries([r.id for r in runs])
    return {
        (r.name, r.seed): (r.status, {k: s.last for k, s in summaries.get(r.id, {}).items()})
        for r in runs
    }


@pytest.mark.slow
@pytest.mark.parametrize("through", ["ray_cluster", "ray_client"])
def test_ctrl_c_kills_the_running_runs_leaves_no_process_and_a_rerun_skips_what_completed(
    cli_ws: Workspace, request: pytest.FixtureRequest, through: str
) -> None:
    # The head's HOST:PORT, or the same Ray through its Ray Client server (ray://).
    address = request.getfixturevalue(through)
    config = write_config(cli_ws, "raytasks:held")
    args = (config, "--seeds", "1", "2", "3", "--jobs", "2", "--executor", "ray")
    proc = cli(cli_ws, *args, "--address", address, interruptible=True)
    try:
        held = [cli_ws.cwd / "held-2", cli_ws.cwd / "held-3"]
        wait_until(lambda: all(p.exists() and p.read_text() for p in held), "runs 2 and 3")
        pids = [int(p.read_text()) for p in held]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "Interrupted" in out + err
    assert "Traceback" not in err
    with trialbook.open_store(cli_ws.root) as db:
        runs = {r.seed: r for r in db.list_runs()}
    assert {s: r.status for s, r in runs.items()} == {1: "completed", 2: "killed", 3: "killed"}
    assert runs[2].error == "stopped: the runner was interrupted (Ctrl-C)"
    # The runs' processes ran in Ray workers, not under `trialbook run`; none survives.
    for pid in pids:
        wait_until(lambda pid=pid: not alive(pid), f"run process {pid} to end", deadline=10)

    (cli_ws.cwd / "release").touch()
    again = cli(cli_ws, *args, "--address", address)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, (out, err)
    with trialbook.open_store(cli_ws.root) as db:
        assert statuses(db) == {"completed": 3, "killed": 2}
        completed = db.list_runs(statuses=("completed",))
    assert sorted(r.seed for r in completed) == [1, 2, 3]
    assert runs[1].id in {r.id for r in completed}  # seed 1 was not run again


SUITE = """
suite: demo
base: {experiment: {name: demo, entrypoint: "tasks:seeds"}}
seeds: [1, 2]
experiments:
  - name: seeded
  - name: on-a-gpu
    set: {+experiment.resources: {gpus: 1}}
    seeds: [3]
"""


@pytest.mark.slow
def test_without_an_address_a_local_ray_starts_gives_what_local_gives_and_stops(
    cli_ws: Workspace,
) -> None:
    (cli_ws.cwd / "suite.yaml").write_text(SUITE)
    local = cli(cli_ws, "suite.yaml", "--root", "local-experiments")
    out, err = local.communicate(timeout=300)
    assert local.returncode == 0, (out, err)

    before = ray_processes()
    ray = cli(cli_ws, "suite.yaml", "--executor", "ray", "--jobs", "2")
    out, err = ray.communicate(timeout=300)
    # The run asking for a GPU fails at once: the local Ray has none and never will.
    assert ray.returncode == 1, (out, err)
    assert "Traceback" not in err and "Token authentication" not in err

    on_ray, on_local = finals(cli_ws.root), finals(cli_ws.cwd / "local-experiments")
    gpu_status, _ = on_ray.pop(("on-a-gpu", 3))
    on_local.pop(("on-a-gpu", 3))
    assert on_ray == on_local and len(on_ray) == 2
    assert {status for status, _ in on_ray.values()} == {"completed"}
    assert gpu_status == "failed"
    with trialbook.open_store(cli_ws.root) as db:
        [gpu_run] = db.list_runs(statuses=("failed",))
    assert gpu_run.error == (
        "The run's process could not start: it asks for experiment.resources.gpus=1 but the "
        "local Ray has 0 GPUs; lower it, or join a cluster that has them (--address)"
    )
    # The Ray it started (GCS server, raylet) stopped with it.
    wait_until(lambda: ray_processes() <= before, "the local Ray to stop", deadline=30)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("address", "said"),
    [
        ("auto", "No Ray cluster was started on this machine for --address auto; "),
        ("127.0.0.1:{port}", "Nothing answers at --address 127.0.0.1:{port} ("),
        ("ray://127.0.0.1:{port}", "Nothing answers at --address ray://127.0.0.1:{port} ("),
        (
            "auto, after a head that died",
            "Nothing answers at --address auto (127.0.0.1:{port}, where `ray start` last "
            "started one) (",
        ),
    ],
)
def test_an_address_without_a_cluster_is_one_sentence_exit_2_and_nothing_written(
    cli_ws: Workspace, tmp_path_factory: pytest.TempPathFactory, address: str, said: str
) -> None:
    port = _closed_port()
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    # Where `ray start` records its cluster: empty here, whatever runs on this machine.
    ray_tmp = tmp_path_factory.mktemp("raytmp")
    env["RAY_TMPDIR"] = str(ray_tmp)
    if address == "auto, after a head that died":
        (ray_tmp / "ray").mkdir()
        (ray_tmp / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}")
        address = "auto"
    config = write_config(cli_ws, "tasks:ok")
    proc = cli(cli_ws, config, "--executor", "ray", "--address", address.format(port=port), env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + said.format(port=port)), err
    assert "Traceback" not in err and out == ""
    assert not cli_ws.root.exists()


def test_a_dry_run_on_ray_starts_nothing(cli_ws: Workspace) -> None:
    before = ray_processes()
    config = write_config(cli_ws, "tasks:ok")
    proc = cli(cli_ws, config, "--executor", "ray", "--dry-run")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert "ok" in out or "exp" in out
    assert ray_processes() == before and not cli_ws.root.exists()


def test_without_ray_installed_the_executor_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from trialbook.execution._ray import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: import fails
    executor = RayExecutor(1)  # building it needs nothing
    with pytest.raises(ConfigError) as caught:
        executor.start()
    assert str(caught.value) == (
        "Ray is not installed; install the ray extra: pip install 'trialbook[ray]'."
    )


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_suite_gives_the_same_runs_statuses_and_metrics_on_ray_as_locally(
    tmp_path: Path, ray_cluster: str
) -> None:
    tiny = ("--seeds", "1", "2", "--train-size", "300", "--test-size", "200", "--epochs", "3")
    for root, executor in (("local", ()), ("ray", ("--executor", "ray", "--address", ray_cluster))):
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "trialbook",
                "run",
                "examples/demo/suite.yaml",
                *tiny,
                "--jobs",
                "2",
                "--root",
                str(tmp_path / root),
                *executor,
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, (proc.stdout, proc.stderr)

    def measured(root: Path) -> dict[tuple[str, int | None], tuple[str, dict[str, float]]]:
        return {
            key: (status, {k: v for k, v in metrics.items() if not k.startswith("system/")})
            for key, (status, metrics) in finals(root).items()
        }

    on_ray, on_local = measured(tmp_path / "ray"), measured(tmp_path / "local")
    assert on_ray == on_local
    assert len(on_ray) == 4 and all("test_accuracy" in m for _, m in on_ray.values())
