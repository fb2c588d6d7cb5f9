"""The local executor's fork server: runs are forked from a pre-imported process, and each is
still a process of its own (session, output, exit status, crashes, timeouts, the Runner's
death); start-time settings such as PYTHONHASHSEED hold as in a fresh interpreter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import psutil
import pytest
from runner_helpers import Workspace, plan, planned, statuses, wait_until

from trialbook.execution import LocalExecutor, Task
from trialbook.execution._forkserver import CHILD_MODULE

PROBES = """

def probe(config, run):
    import json, os, sys
    import psutil
    info = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "sid": os.getsid(0),
        "pgid": os.getpgrp(),
        "argv": sys.argv,
        "main": sys.modules["__main__"].__spec__.name,
        "cmdline": psutil.Process().cmdline(),
        "hash": hash("trialbook"),
        "hashseed": os.environ.get("PYTHONHASHSEED"),
        "cwd": os.getcwd(),
    }
    Path(f"probe-{config['index']}.json").write_text(json.dumps(info))
    print("to stdout", config["index"])
    print("to stderr", config["index"], file=sys.stderr)


def count_servers(config, run):
    import json, os
    import psutil
    runner = int(os.environ["TRIALBOOK_RUNNER_PID"])
    # Servers of executors that other tests of this process left open are not this runner's.
    others = set(json.loads(Path("other-servers.json").read_text()))
    servers = []
    for p in psutil.Process(runner).children():
        try:
            if p.pid in others:
                continue
            if p.status() != "zombie" and "trialbook.execution._forkserver" in p.cmdline():
                servers.append(p)
        except psutil.Error:
            pass
    Path(f"servers-{config['index']}.json").write_text(json.dumps(len(servers)))
    return {"hash": hash("trialbook") % 1000}


def exit3(config, run):
    sys.stdout.flush()
    os._exit(3)


def segfault(config, run):
    import ctypes
    ctypes.string_at(0)


def spawner(config, run):
    import subprocess
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    Path("grandchild.pid").write_text(str(child.pid))
    time.sleep(60)
"""


@pytest.fixture
def probes(ws: Workspace) -> Workspace:
    with open(ws.cwd / "tasks.py", "a") as f:
        f.write(textwrap.dedent(PROBES))
    return ws


def _probe(ws: Workspace, index: int) -> dict[str, Any]:
    info: dict[str, Any] = json.loads((ws.cwd / f"probe-{index}.json").read_text())
    return info


def _forked(info: dict[str, Any]) -> bool:
    """A forked child keeps the server's command line; an exec'd one has its own."""
    return "trialbook.execution._forkserver" in info["cmdline"]


def test_runs_are_forked_from_one_server_each_in_its_own_session(probes: Workspace) -> None:
    runs = [planned("probe", name=f"p{i}", index=i, seed=1) for i in range(3)]
    result = probes.runner(jobs=1).run(plan(*runs))
    assert result.ok, [o.error for o in result.outcomes]
    infos = [_probe(probes, i) for i in range(3)]
    with probes.store() as db:
        records = [db.get_run(o.run_id or "") for o in result.outcomes]
    assert [r.pid for r in records] == [info["pid"] for info in infos]
    servers = {info["ppid"] for info in infos}
    assert len(servers) == 1 and os.getpid() not in servers
    for i, info in enumerate(infos):
        assert _forked(info)
        assert info["sid"] == info["pid"] == info["pgid"]  # a session of its own
        assert info["main"] == CHILD_MODULE and info["argv"][0].endswith("_child.py")
        assert info["cwd"] == str(probes.cwd)
        folder = Path(records[i].folder or "")
        assert (folder / "stdout.log").read_text() == f"to stdout {i}\n"
        assert (folder / "stderr.log").read_text() == f"to stderr {i}\n"
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["pid"] == info["pid"] and meta["command"] == info["argv"]


def _hash_in_fresh_interpreter(seed: int) -> int:
    out = subprocess.run(
        [sys.executable, "-c", "print(hash('trialbook'))"],
        env={**os.environ, "PYTHONHASHSEED": str(seed)},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


def test_each_seed_hashes_as_a_fresh_interpreter_with_its_hash_seed_would(
    probes: Workspace,
) -> None:
    seeds = [5, 6, 5, 6, 5]
    runs = [planned("probe", name=f"p{i}", index=i, seed=s) for i, s in enumerate(seeds)]
    assert probes.runner(jobs=1).run(plan(*runs)).ok
    infos = [_probe(probes, i) for i in range(len(seeds))]
    expected = {seed: _hash_in_fresh_interpreter(seed) for seed in set(seeds)}
    assert [info["hash"] for info in infos] == [expected[s] for s in seeds]
    assert [info["hashseed"] for info in infos] == [str(s) for s in seeds]
    # Seed 5 starts the first server. Seed 6's first run starts a fresh interpreter (a server
    # of its own would cost as much); its second starts that server; the rest are forked.
    assert [_forked(info) for info in infos] == [True, False, True, True, True]
    assert infos[0]["ppid"] == infos[2]["ppid"] == infos[4]["ppid"] != infos[3]["ppid"]


def test_a_crash_takes_down_only_its_own_run(probes: Workspace) -> None:
    runs = [
        planned("suicide", name="killed"),
        planned("exit3", name="exit3"),
        planned("segfault", name="segfault"),
        planned("probe", name="after", index=0),
    ]
    result = probes.runner(jobs=1).run(plan(*runs))
    killed, exited, segfault, after = result.outcomes
    assert killed.status == "crashed" and "SIGKILL" in (killed.error or "")
    assert exited.status == "failed" and "3" in (exited.error or "")
    assert segfault.status == "crashed" and "SIGSEGV" in (segfault.error or "")
    assert after.status == "completed" and _forked(_probe(probes, 0))
    with probes.store() as db:
        assert statuses(db) == {"crashed": 2, "failed": 1, "completed": 1}


def test_a_timeout_stops_every_process_a_forked_run_started(probes: Workspace) -> None:
    result = probes.runner(jobs=1, timeout=3.0).run(plan(planned("spawner", name="slow")))
    [outcome] = result.outcomes
    assert outcome.status == "killed" and outcome.error == "timed out after 3 s (--timeout)"
    grandchild = int((probes.cwd / "grandchild.pid").read_text())

    def gone() -> bool:
        try:
            return psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(gone, "the run's own child to be killed with it")


def test_without_the_fork_server_each_run_starts_a_fresh_interpreter(
    probes: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIALBOOK_FORK_SERVER", "0")
    runs = [planned("probe", name=f"p{i}", index=i, seed=1) for i in range(2)]
    assert probes.runner(jobs=1).run(plan(*runs)).ok
    infos = [_probe(probes, i) for i in range(2)]
    assert not any(_forked(info) for info in infos)
    assert all(info["cmdline"][1:] == ["-m", CHILD_MODULE] for info in infos)
    assert all(info["sid"] == info["pid"] for info in infos)


def test_a_missing_working_directory_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    task = Task(
        key="t",
        argv=(sys.executable, "-c", "pass"),
        cwd=missing,
        stdout_path=tmp_path / "t.out",
        stderr_path=tmp_path / "t.err",
    )
    with LocalExecutor(1) as executor:
        result = executor.run(task)
    assert not result.ok and result.started_at is None
    assert result.error and str(missing) in result.error and "working directory" in result.error


RUNNER = """
import sys
sys.path.insert(0, {helpers!r})
from runner_helpers import Workspace, plan, planned
from pathlib import Path
ws = Workspace(Path.cwd(), Path.cwd() / "experiments")
ws.runner(jobs=1).run(plan(planned("sleepy", name="sleepy")))
"""


@pytest.mark.slow
def test_the_server_and_its_runs_end_when_the_runner_is_killed(probes: Workspace) -> None:
    script = probes.cwd / "run_one.py"
    script.write_text(RUNNER.format(helpers=str(Path(__file__).parent)))
    runner = subprocess.Popen([sys.executable, str(script)], cwd=probes.cwd)
    try:
        wait_until((probes.cwd / "sleepy-started").exists, "the run to start")
        with probes.store() as db:
            [run] = db.list_runs()
        assert run.pid is not None
        server = psutil.Process(run.pid).ppid()
        assert server != runner.pid and psutil.Process(server).ppid() == runner.pid
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()

    def ended(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    wait_until(lambda: ended(server), "the fork server to die with the runner")
    wait_until(lambda: ended(run.pid or 0), "the run to get SIGTERM and end")
    with probes.store() as db:
        assert statuses(db) == {"killed": 1}


@pytest.mark.slow
def test_at_most_max_servers_run_at_once_and_none_outlives_the_runner(probes: Workspace) -> None:
    from trialbook.execution._local import MAX_SERVERS

    def servers() -> list[int]:
        found = []
        for p in psutil.Process().children():
            try:
                if p.status() != psutil.STATUS_ZOMBIE and (
                    "trialbook.execution._forkserver" in " ".join(p.cmdline())
                ):
                    found.append(p.pid)
            except psutil.Error:  # ended meanwhile
                pass
        return found

    others = servers()
    (probes.cwd / "other-servers.json").write_text(json.dumps(others))
    seeds = [s for s in range(MAX_SERVERS + 2) for _ in range(2)]  # each seed twice in a row
    runs = [planned("count_servers", name=f"c{i}", index=i, seed=s) for i, s in enumerate(seeds)]
    result = probes.runner(jobs=1).run(plan(*runs))
    assert result.ok, [(o.status, o.error) for o in result.outcomes if o.status != "completed"]
    counts = [json.loads((probes.cwd / f"servers-{i}.json").read_text()) for i in range(len(runs))]
    assert max(counts) == MAX_SERVERS
    hashes = {s: _hash_in_fresh_interpreter(s) % 1000 for s in set(seeds)}
    assert [o.metrics["hash"] for o in result.outcomes] == [hashes[s] for s in seeds]
    # The Runner's servers are children of this process (not recursive: a session Ray's
    # workers, children of its raylet, run fork servers of their own for their actors).
    assert [pid for pid in servers() if pid not in others] == []
