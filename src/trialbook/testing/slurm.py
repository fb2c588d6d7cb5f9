"""A throwaway single-node Slurm cluster for tests: :func:`local_slurm`.

Starts, in a temporary folder and in this order: munged (its own key and socket), MariaDB
(its own data folder, a Unix socket and 127.0.0.1 only), slurmdbd (accounting, so ``sacct``
reports how jobs ended), ``sacctmgr add cluster``, slurmctld and slurmd, with one node named
after this machine (2 CPUs, ``proctrack/linuxproc``, ``task/none``: no cgroups needed) and one
partition ``debug``. It waits until ``sinfo`` shows the node idle, points ``SLURM_CONF`` at the
cluster's slurm.conf for the duration, and stops every daemon it started, by pid, at the end.

Needs Debian's ``slurm-wlm``, ``slurmdbd``, ``munge`` and ``mariadb-server`` packages (``.ci/
slurm-install`` installs them) and root, since slurmd runs jobs as their users. Anything
missing raises :class:`~trialbook.testing.BackendUnavailable` with what failed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from trialbook.testing.stores import BackendUnavailable

__all__ = ["SLURM_CONF_ENV", "SlurmCluster", "local_slurm", "shared_cluster", "stop_shared_cluster"]

#: The environment variable every Slurm command reads its slurm.conf from.
SLURM_CONF_ENV = "SLURM_CONF"
#: Seconds a daemon may take to come up before the cluster counts as unavailable.
_START_DEADLINE = 60.0
_SBIN = ("/usr/sbin", "/usr/bin", "/sbin")
#: Where Slurm's commands look for munged.
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")


@dataclass(frozen=True)
class SlurmCluster:
    """A running test cluster.

    Attributes:
        conf: its slurm.conf (what ``SLURM_CONF`` points at).
        folder: the temporary folder holding its state, logs and sockets.
        node: the one node's name (this machine's host name).
        partition: the one partition's name.
        kill_wait: seconds Slurm waits between SIGTERM and SIGKILL when a job is stopped.
    """

    conf: Path
    folder: Path
    node: str
    partition: str = "debug"
    kill_wait: int = 2

    def env(self) -> dict[str, str]:
        """The environment variables a Slurm command needs to reach this cluster."""
        return {SLURM_CONF_ENV: str(self.conf)}


def _program(name: str) -> str:
    found = shutil.which(name) or next(
        (str(Path(d) / name) for d in _SBIN if (Path(d) / name).is_file()), None
    )
    if found is None:
        raise BackendUnavailable(
            f"{name} is not installed; install Debian's slurm-wlm, slurmdbd, munge and "
            "mariadb-server packages (.ci/slurm-install does)."
        )
    return found


def _munge_works(programs: dict[str, str], env: dict[str, str]) -> bool:
    """A munged answers at the default socket: a credential encodes and decodes."""
    try:
        cred = subprocess.run(
            [programs["munge"], "-n"], capture_output=True, env=env, timeout=10, check=True
        ).stdout
        subprocess.run(
            [programs["unmunge"]], input=cred, capture_output=True, env=env, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class _Daemons:
    """The processes started so far; stopped in reverse order."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.out"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        self.procs.append((name, proc, log))
        return proc

    def check_alive(self, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        if proc.poll() is not None:
            raise BackendUnavailable(
                f"{name} exited with status {proc.returncode} while starting the test Slurm "
                f"cluster; its log ({log}) ends with:\n{_tail(log)}"
            )

    def stop(self) -> None:
        for _, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        self.procs.clear()
        self.kill_leftovers()

    def kill_leftovers(self) -> None:
        """Kill what the cluster's daemons started and left behind: slurmstepd detaches
        from slurmd (its parent becomes init), and outlives a slurmd that dies, with its
        job. They are found by the SLURM_CONF they inherited from the daemons."""
        import psutil

        marker = f"{SLURM_CONF_ENV}={self.env[SLURM_CONF_ENV]}"
        me = psutil.Process()
        spared = {me.pid, *(p.pid for p in me.parents())}
        for process in psutil.process_iter():
            if process.pid in spared:
                continue
            try:
                with open(f"/proc/{process.pid}/environ", "rb") as f:
                    environ = f.read().decode(errors="replace").split("\0")
                if marker in environ:
                    process.kill()
            except (OSError, psutil.Error):
                continue


def _run(argv: list[str], env: dict[str, str], what: str, timeout: float = 30) -> str:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BackendUnavailable(f"{what} failed: {e}") from e
    if done.returncode != 0:
        raise BackendUnavailable(
            f"{what} failed ({' '.join(argv)}, status {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()}"
        )
    return done.stdout


def _poll(what: str, ready: object, daemons: _Daemons, deadline: float = _START_DEADLINE) -> None:
    """Call ``ready()`` until it returns True; fail with the daemons' logs if one dies or
    the deadline passes."""
    assert callable(ready)
    end = time.monotonic() + deadline
    while True:
        for name, proc, log in daemons.procs:
            daemons.check_alive(name, proc, log)
        if ready():
            return
        if time.monotonic() > end:
            logs = "\n".join(f"--- {log}:\n{_tail(log)}" for _, _, log in daemons.procs)
            raise BackendUnavailable(f"{what} did not happen within {deadline:g} s.\n{logs}")
        time.sleep(0.2)


@contextmanager
def local_slurm(
    folder: str | os.PathLike[str] | None = None, *, extra_conf: str = ""
) -> Iterator[SlurmCluster]:
    """Start a single-node Slurm cluster with accounting, yield it, and stop it.

    ``SLURM_CONF`` points at the cluster while the context is open (and is put back after).

    Args:
        folder: where to keep its files (default: a new temporary folder, removed after).
        extra_conf: lines added to slurm.conf (e.g. ``SlurmdTimeout=5``).

    Raises:
        BackendUnavailable: a program is missing, this is not root, or a daemon did not
            start (the message holds the end of its log).
    """
    if os.geteuid() != 0:
        raise BackendUnavailable("The test Slurm cluster must be started as root (slurmd).")
    programs = {
        name: _program(name)
        for name in (
            "munged",
            "mungekey",
            "munge",
            "unmunge",
            "mariadb-install-db",
            "mariadbd",
            "mariadb",
            "slurmdbd",
            "sacctmgr",
            "slurmctld",
            "slurmd",
            "sinfo",
        )
    }
    with ExitStack() as stack:
        if folder is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="tb-slurm-")))
        else:
            root = Path(folder)
            root.mkdir(parents=True, exist_ok=True)
        root.chmod(0o755)  # slurmstepd and jobs read the spool as other users
        node = socket.gethostname().split(".")[0]
        cluster_name = f"tb{os.getpid()}"
        ports = {k: _free_port() for k in ("mysql", "dbd", "ctld", "slurmd")}
        mysql_socket = root / "mysql.sock"
        conf = root / "slurm.conf"
        for sub in ("state", "spool", "mysql"):
            (root / sub).mkdir(exist_ok=True)
        env = {**os.environ, SLURM_CONF_ENV: str(conf)}
        daemons = _Daemons(root, env)
        stack.callback(daemons.stop)

        # munge: Slurm's clients reach munged only at its default socket (sacctmgr ignores
        # AuthInfo=socket=), so a munged already serving it is used, else one is started
        # there with a key of its own.
        if not _munge_works(programs, env):
            key = root / "munge.key"
            _run([programs["mungekey"], "-c", "-f", "-k", str(key)], env, "mungekey")
            key.chmod(0o400)
            MUNGE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
            munged = [
                programs["munged"],
                "-F",
                "--force",
                f"--key-file={key}",
                f"--socket={MUNGE_SOCKET}",
                f"--pid-file={root / 'munged.pid'}",
                f"--log-file={root / 'munged.log'}",
                f"--seed-file={root / 'munged.seed'}",
            ]
            daemons.start("munged", munged)
            _poll("munged answering", lambda: _munge_works(programs, env), daemons)

        # MariaDB for slurmdbd: a fresh data folder, 127.0.0.1 only.
        datadir = root / "mysql"
        _run(
            [
                programs["mariadb-install-db"],
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            env,
            "mariadb-install-db",
            timeout=120,
        )
        daemons.start(
            "mariadbd",
            [
                programs["mariadbd"],
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                f"--socket={mysql_socket}",
                "--bind-address=127.0.0.1",
                f"--port={ports['mysql']}",
                f"--pid-file={root / 'mariadbd.pid'}",
                f"--log-error={root / 'mariadbd.log'}",
                "--innodb-buffer-pool-size=32M",
                "--skip-log-bin",
            ],
        )
        _poll("MariaDB's socket", mysql_socket.exists, daemons)
        sql = (
            "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
        )

        def sql_ready() -> bool:
            done = subprocess.run(
                [programs["mariadb"], "--no-defaults", f"--socket={mysql_socket}", "-uroot"],
                input=sql,
                capture_output=True,
                text=True,
                env=env,
            )
            return done.returncode == 0

        _poll("MariaDB accepting the slurm user", sql_ready, daemons)

        common = "AuthType=auth/munge\n"
        dbd_conf = root / "slurmdbd.conf"
        dbd_conf.write_text(
            common + f"DbdHost=localhost\nDbdAddr=127.0.0.1\nDbdPort={ports['dbd']}\n"
            "SlurmUser=root\n"
            f"PidFile={root / 'slurmdbd.pid'}\nLogFile={root / 'slurmdbd.log'}\n"
            "StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\n"
            f"StoragePort={ports['mysql']}\nStorageUser=slurm\nStoragePass=slurm\n"
            "StorageLoc=slurm_acct_db\n"
        )
        dbd_conf.chmod(0o600)
        kill_wait = 2
        conf.write_text(
            common + f"ClusterName={cluster_name}\nSlurmctldHost={node}(127.0.0.1)\n"
            f"SlurmctldPort={ports['ctld']}\nSlurmdPort={ports['slurmd']}\n"
            "SlurmUser=root\nSlurmdUser=root\n"
            f"StateSaveLocation={root / 'state'}\nSlurmdSpoolDir={root / 'spool'}\n"
            f"SlurmctldPidFile={root / 'slurmctld.pid'}\nSlurmdPidFile={root / 'slurmd.pid'}\n"
            f"SlurmctldLogFile={root / 'slurmctld.log'}\nSlurmdLogFile={root / 'slurmd.log'}\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_Core_Memory\nDefMemPerCPU=1000\n"
            "MpiDefault=none\nReturnToService=2\nSlurmdParameters=config_overrides\n"
            "JobAcctGatherType=jobacct_gather/linux\nJobAcctGatherFrequency=1\n"
            "JobAcctGatherParams=OverMemoryKill\n"
            "AccountingStorageType=accounting_storage/slurmdbd\n"
            f"AccountingStorageHost=localhost\nAccountingStoragePort={ports['dbd']}\n"
            f"KillWait={kill_wait}\nMinJobAge=600\nSchedulerParameters=sched_interval=1\n"
            "JobCompType=jobcomp/none\n"
            f"NodeName={node} NodeAddr=127.0.0.1 CPUs=2 RealMemory=4000 State=UNKNOWN\n"
            "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n" + extra_conf
        )

        daemons.start("slurmdbd", [programs["slurmdbd"], "-D"])

        def cluster_added() -> bool:
            done = subprocess.run(
                [programs["sacctmgr"], "-i", "add", "cluster", cluster_name],
                capture_output=True,
                text=True,
                env=env,
            )
            return done.returncode == 0 or "already exists" in done.stdout + done.stderr

        _poll("sacctmgr add cluster", cluster_added, daemons)
        daemons.start("slurmctld", [programs["slurmctld"], "-D", "-i"])
        daemons.start("slurmd", [programs["slurmd"], "-D", "-N", node])

        def node_idle() -> bool:
            done = subprocess.run(
                [programs["sinfo"], "-h", "-N", "-o", "%t"],
                capture_output=True,
                text=True,
                env=env,
            )
            return done.returncode == 0 and done.stdout.strip() == "idle"

        _poll(f"sinfo showing node {node} idle", node_idle, daemons)
        previous = os.environ.get(SLURM_CONF_ENV)
        os.environ[SLURM_CONF_ENV] = str(conf)
        try:
            yield SlurmCluster(conf=conf, folder=root, node=node, kill_wait=kill_wait)
        finally:
            if previous is None:
                os.environ.pop(SLURM_CONF_ENV, None)
            else:
                os.environ[SLURM_CONF_ENV] = previous


_SHARED: list[tuple[ExitStack, SlurmCluster]] = []
_SHARED_ERROR: list[BackendUnavailable] = []


def shared_cluster() -> SlurmCluster:
    """The one test cluster of this process: started on the first call (see
    :func:`local_slurm`), stopped by :func:`stop_shared_cluster` or at exit. A cluster that
    failed to start fails every later call the same way, without trying again.

    Raises:
        BackendUnavailable: the cluster cannot start here.
    """
    if _SHARED_ERROR:
        raise _SHARED_ERROR[0]
    if not _SHARED:
        stack = ExitStack()
        try:
            cluster = stack.enter_context(local_slurm())
        except BackendUnavailable as e:
            stack.close()
            _SHARED_ERROR.append(e)
            raise
        _SHARED.append((stack, cluster))
        atexit.register(stop_shared_cluster)
    os.environ[SLURM_CONF_ENV] = str(_SHARED[0][1].conf)
    return _SHARED[0][1]


def stop_shared_cluster() -> None:
    """Stop the cluster :func:`shared_cluster` started, if it did."""
    while _SHARED:
        stack, _ = _SHARED.pop()
        stack.close()


def _main() -> None:  # pragma: no cover - by hand: python -m trialbook.testing.slurm
    """Start a test cluster, print how to use it, and keep it until Ctrl-C (or SIGTERM)."""
    import sys

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    start = time.monotonic()
    with local_slurm() as cluster:
        print(
            f"Slurm is up ({time.monotonic() - start:.1f} s, node {cluster.node}, partition "
            f"{cluster.partition}); in another shell:\n  export SLURM_CONF={cluster.conf}\n"
            "Ctrl-C stops it.",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":  # pragma: no cover
    _main()
