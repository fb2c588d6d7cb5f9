"""Deciding whether a ``running`` run still has a live process behind it."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

import psutil

__all__ = ["JobHolder", "LivenessPolicy", "RunningProcess", "process_start_time"]

#: Seconds without a heartbeat after which a run on another host counts as crashed.
DEFAULT_HEARTBEAT_GRACE = 120.0


def _default_grace() -> float:
    raw = os.environ.get("TRIALBOOK_HEARTBEAT_GRACE")
    try:
        return float(raw) if raw else DEFAULT_HEARTBEAT_GRACE
    except ValueError:
        return DEFAULT_HEARTBEAT_GRACE


def process_start_time(pid: int) -> float | None:
    """When process ``pid`` started (epoch seconds), or None if it does not exist."""
    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


@dataclass(frozen=True)
class RunningProcess:
    """What the Store knows about the process behind a ``running`` run."""

    run_id: str
    host: str | None
    pid: int | None
    pid_started_at: float | None
    heartbeat_at: float | None
    started_at: float | None


@dataclass(frozen=True)
class JobHolder:
    """The runner that follows the job of a run in a queueing backend (a Slurm job): its
    host, pid and the pid's start time, its last heartbeat (the Store's clock), and whether
    it let the job go (``trialbook run --detach``). See :meth:`Store.adopt_job`."""

    run_id: str
    host: str
    pid: int
    pid_started_at: float | None
    heartbeat_at: float
    detached: bool

    def process(self) -> RunningProcess:
        """The holder as the liveness facts :class:`LivenessPolicy` judges."""
        return RunningProcess(
            self.run_id, self.host, self.pid, self.pid_started_at, self.heartbeat_at, None
        )


@dataclass(frozen=True)
class LivenessPolicy:
    """Same host: the pid must exist, not be a zombie, and have the recorded start time
    (so a reused pid does not keep a dead run alive). Other hosts, or no pid: the last
    heartbeat must be younger than ``grace`` seconds (``TRIALBOOK_HEARTBEAT_GRACE``), measured
    with the Store's clock (:meth:`Store.now`: the database server's on PostgreSQL), which
    heartbeats are written with too. The same rule judges runs and the runners that follow
    jobs (:class:`JobHolder`).
    """

    grace: float = field(default_factory=_default_grace)
    host: str = field(default_factory=socket.gethostname)

    def is_alive(self, proc: RunningProcess, now: float) -> bool:
        if proc.host == self.host and proc.pid:
            return self._pid_alive(proc.pid, proc.pid_started_at)
        last = proc.heartbeat_at or proc.started_at
        return last is not None and now - last < self.grace

    @staticmethod
    def _pid_alive(pid: int, started_at: float | None) -> bool:
        try:
            p = psutil.Process(pid)
            if p.status() == psutil.STATUS_ZOMBIE:
                return False
            created = p.create_time()
        except (psutil.NoSuchProcess, ProcessLookupError):
            return False
        except psutil.AccessDenied:
            return True
        # create_time is rounded differently by the kernel and psutil; a second is plenty.
        return started_at is None or abs(created - started_at) < 1.0
