"""The local executor's fork server: runs are forked from a pre-imported process, and each is
still a process of its own (session, output, exit status, crashes, timeouts, the Runner's
death); start-time settings such as PYTHONHASHSEED hold as in a fresh interpreter."""

from __future__ import annotations

import gzip
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
from trialbook.execution._runner import RUN_HASH_SEED

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


_LEFT_OPEN = []


def leaves_work_behind(config, run):
    # What a process leaves for its exit: an atexit handler, files never closed, a thread
    # still running, output without a newline; and a finally block.
    import atexit, gzip, threading
    tag = config["tag"]
    atexit.register(lambda: Path(f"atexit-{tag}.txt").write_text("ran"))
    text = open(f"open-{tag}.txt", "w")
    text.write("buffered text")
    zipped = gzip.open(f"open-{tag}.gz", "wt")
    zipped.write("zipped text")
    _LEFT_OPEN.extend([text, zipped])

    def late():
        time.sleep(0.3)
        Path(f"thread-{tag}.txt").write_text("joined")

    threading.Thread(target=late).start()
    sys.stdout.write("x" * 100_000 + "no newline at the end")
    try:
        return {"done": 1.0}
    finally:
        Path(f"finally-{tag}.txt").write_text("ran")


def exits(config, run):
    sys.exit(config["code"])


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


def _hash_in_fresh_interpreter(seed: int | str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", "print(hash('trialbook'))"],
        env={**os.environ, "PYTHONHASHSEED": str(seed)},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


def test_runs_of_every_seed_hash_with_one_fixed_hash_seed_and_share_one_server(
    probes: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    seeds = [5, 6, 7, 5]
    runs = [planned("probe", name=f"p{i}", index=i, seed=s) for i, s in enumerate(seeds)]
    assert probes.runner(jobs=1).run(plan(*runs)).ok
    infos = [_probe(probes, i) for i in range(len(seeds))]
    assert [info["hashseed"] for info in infos] == [RUN_HASH_SEED] * len(seeds)
    assert {info["hash"] for info in infos} == {_hash_in_fresh_interpreter(RUN_HASH_SEED)}
    assert all(_forked(info) for info in infos)
    assert len({info["ppid"] for info in infos}) == 1


def test_a_hash_seed_set_for_the_runner_is_the_hash_seed_of_its_runs(
    probes: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "123")
    runs = [planned("probe", name=f"p{i}", index=i, seed=i) for i in range(2)]
    assert probes.runner(jobs=1).run(plan(*runs)).ok
    infos = [_probe(probes, i) for i in range(2)]
    assert [info["hashseed"] for info in infos] == ["123", "123"]
    assert [info["hash"] for info in infos] == [_hash_in_fresh_interpreter(123)] * 2
    assert all(_forked(info) for info in infos)


def _ending(ws: Workspace, mode: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("TRIALBOOK_FORK_SERVER", "1" if mode == "forked" else "0")
    runs = [
        planned("leaves_work_behind", name="left", tag=mode),
        planned("exits", name="exit0", code=0, tag=mode),
        planned("exits", name="exit4", code=4, tag=mode),
        planned("exits", name="exit-message", code="bye now", tag=mode),
        planned("probe", name="probe", index=mode),
    ]
    result = ws.runner(jobs=1).run(plan(*runs))
    assert _forked(_probe(ws, mode)) == (mode == "forked")
    with ws.store() as db:
        folders = [Path(db.get_run(o.run_id or "").folder or "") for o in result.outcomes]
    files = {
        name: (ws.cwd / f"{name}-{mode}.txt").read_text()
        for name in ("atexit", "open", "thread", "finally")
    }
    return {
        "outcomes": [(o.status, o.error, o.metrics) for o in result.outcomes],
        "stdout": [(folder / "stdout.log").read_text() for folder in folders[:4]],
        "stderr": [(folder / "stderr.log").read_text() for folder in folders[:4]],
        "files": files,
        "gzip": gzip.decompress((ws.cwd / f"open-{mode}.gz").read_bytes()).decode(),
    }


def test_a_forked_run_ends_as_it_would_in_a_fresh_interpreter(
    probes: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    forked = _ending(probes, "forked", monkeypatch)
    assert forked["files"] == {
        "atexit": "ran",
        "open": "buffered text",
        "thread": "joined",
        "finally": "ran",
    }
    assert forked["gzip"] == "zipped text"
    assert forked["stdout"][0] == "x" * 100_000 + "no newline at the end"
    assert forked["outcomes"][0] == ("completed", None, {"done": 1.0})
    assert forked == _ending(probes, "fresh", monkeypatch)


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


def _servers() -> list[int]:
    """The fork servers that are children of this process."""
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


@pytest.mark.slow
def test_at_most_max_servers_run_at_once_and_none_outlives_the_executor(tmp_path: Path) -> None:
    from trialbook.execution._local import MAX_SERVERS

    # The Runner gives all its runs one hash seed; an executor given tasks with different
    # start-time variables keeps one server per set of them, MAX_SERVERS at most.
    others = set(_servers())
    seeds = [s for s in range(MAX_SERVERS + 1) for _ in range(2)]  # each seed twice in a row
    counts, results = [], []
    with LocalExecutor(1) as executor:
        for i, seed in enumerate(seeds):
            task = Task(
                key=f"t{i}",
                argv=(sys.executable, "-m", CHILD_MODULE),
                cwd=tmp_path,
                stdout_path=tmp_path / f"t{i}.out",
                stderr_path=tmp_path / f"t{i}.err",
                env={"PYTHONHASHSEED": str(seed), "TRIALBOOK_RUN_ID": ""},
            )
            results.append(executor.run(task))
            counts.append(len([pid for pid in _servers() if pid not in others]))
    # Without a run to attach to, the child says so and exits 2 (forked or not).
    assert [r.exit_code for r in results] == [2] * len(seeds)
    assert "TRIALBOOK_RUN_ID is not set" in (tmp_path / "t3.err").read_text()
    assert max(counts) == MAX_SERVERS
    assert [pid for pid in _servers() if pid not in others] == []


def test_warm_up_starts_the_server_that_then_forks_the_runs(tmp_path: Path) -> None:
    others = set(_servers())
    env = {"PYTHONHASHSEED": "0", "TRIALBOOK_RUN_ID": ""}
    with LocalExecutor(1) as executor:
        executor.warm_up(env)
        [server] = [pid for pid in _servers() if pid not in others]
        executor.warm_up(env)  # the same start-time values: that server again
        task = Task(
            key="t",
            argv=(sys.executable, "-m", CHILD_MODULE),
            cwd=tmp_path,
            stdout_path=tmp_path / "t.out",
            stderr_path=tmp_path / "t.err",
            env=env,
        )
        result = executor.run(task)
        assert [pid for pid in _servers() if pid not in others] == [server]
    assert result.exit_code == 2  # forked by it: no run to attach to, as a fresh one would say
    assert "TRIALBOOK_RUN_ID is not set" in (tmp_path / "t.err").read_text()
