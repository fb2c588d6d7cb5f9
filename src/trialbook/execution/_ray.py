"""RayExecutor: each task's process runs inside a Ray actor that reserves the task's resources.

How it works (at most ``max_jobs`` tasks handed to Ray at once):

* The driver (this process) runs each task on a :class:`_TaskActor` created with the task's
  ``num_cpus`` (default 1), ``num_gpus`` and ``memory``; Ray starts it on a node with room
  and holds those resources while the actor lives. An actor whose task ended normally runs
  the next task that asks for the same resources (a new actor is a new worker process, about
  a second); it is killed when a task of ours waits for room, after ``_IDLE`` seconds without
  work, and at ``close``.
* The actor runs the process with a :class:`~trialbook.execution.LocalExecutor` of its own, so
  a process behaves exactly as with ``--executor local``: its own session, stdout and stderr
  appended line by line to ``stdout_path`` / ``stderr_path`` *on the worker's node* (a shared
  filesystem on a multi-node cluster), the timeout, SIGTERM to the process group and SIGKILL
  after ``grace``.
* The actor's ``run`` returns when the process has ended; meanwhile it keeps ``started`` (when
  and where the process runs), batches of output lines, then the result, for its ``news``.
  One driver thread per task asks ``news`` again and again (each call waits on the actor
  up to ``_LONG_POLL`` seconds for something new) and passes the lines to ``on_output``, in
  order, even when the worker could not write them to the files. The driver never reads the
  run folders. Plain method calls, not a Ray streaming generator, because Ray Client does
  not carry those (ray-project/ray#43357, closed as won't fix): one protocol serves a driver
  on a node of the cluster and one connected through ``ray://``.
* Cancelling calls the actor's ``stop``, which asks the actor's loop to cancel the process
  (SIGTERM to its group, SIGKILL after grace; again: SIGKILL at once). ``ray.cancel`` cannot
  do this: it does not interrupt a worker blocked waiting for its subprocess (the process runs
  on), and ``force=True`` kills the worker, taking the process with it without SIGTERM or
  grace. An actor Ray has not started yet (waiting for resources) is killed with ``ray.kill``.
* A worker or node that dies fails the next ``news`` call with a ``RayActorError``; a Ray
  task pinned to that node kills what is left of the task's process group (Ray itself kills a
  dead worker's children only where its subreaper is on, and never their own children) and
  the result carries ``lost`` (the Runner marks the run crashed). An actor that a worker
  cannot create (another trialbook on that node), or a call Ray refuses, is the task's
  ``error``.
* Through Ray Client (``address=ray://HOST:PORT``) the driver is the client and Ray's side of
  it runs on the cluster: the actors, the processes and the run folders are all there, so
  the workspace root and the suite's folder must be at the same paths on the workers (a
  shared filesystem), and the store URL must reach the database from them. A run of the
  Runner is started with the worker's own Python, not the path of the client's.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import queue
import re
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, replace
from typing import Any, Literal

from trialbook.errors import ConfigError
from trialbook.execution._executor import OutputCallback, Task, TaskHandle, TaskResult
from trialbook.execution._queued import QueuedExecutor, QueuedJob

__all__ = ["RayExecutor"]

#: Lines sent to the driver in one message at most.
_BATCH = 500
#: How long the actor's loop waits for its process before it looks at output and stop requests.
_POLL = 0.05
#: Seconds an actor whose task ended waits for another task with the same resources.
_IDLE = 2.0
#: Seconds the driver gives the node-pinned task that kills a lost task's process group.
_REAP_TIMEOUT = 30.0

#: How a Ray Client address starts.
_CLIENT = "ray://"
#: Seconds the driver's request for a task's news waits on the actor when there is none.
_LONG_POLL = 1.0
#: Messages handed to the driver in one answer at most (each holds up to ``_BATCH`` lines).
_MESSAGES = 20

_INSTALL_HINT = "Ray is not installed; install the ray extra: pip install 'trialbook[ray]'."


def _import_ray(loopback: bool) -> Any:
    """``ray``, imported on first use; ``loopback``: the cluster is on this machine only."""
    # Ray sends usage statistics over the internet unless told not to.
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if loopback:
        # Read once when ray is imported: the node's address is 127.0.0.1 instead of the
        # address of the interface that routes to the internet (Ray's default on Linux).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError as e:
        raise ConfigError(_INSTALL_HINT, parameter="executor", value="ray") from e
    return ray


def _is_loopback(address: str | None) -> bool:
    if address is None:
        return True
    host = address.removeprefix("ray://").rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reachable(address: str) -> str:
    """``address`` for ``ray.init``, once something answers there.

    Ray itself would retry an address where nothing listens for minutes, and ``auto`` would
    join any Ray it finds running on this machine (another user's notebook); here ``auto``
    is the cluster ``ray start`` last started on this machine, or ``RAY_ADDRESS``.

    Raises:
        ConfigError: no cluster is there.
    """
    if address == "auto":
        given = os.environ.get("RAY_ADDRESS")
        found = given or _started_cluster()
        if found is None:
            raise ConfigError(
                "No Ray cluster was started on this machine for address=auto; start one "
                "with `ray start --head`, or leave address=... out to start a local Ray.",
                parameter="address",
                value=address,
            )
        if found != "auto":
            source = "from RAY_ADDRESS" if given else "where `ray start` last started one"
            _answers(found, f"address=auto ({found}, {source})")
        # Ray looks the address up again the same way, and turns on token authentication
        # for a cluster found so (not for an explicit address).
        return "auto"
    _answers(address, f"address={address}")
    return address


def _answers(address: str, shown: str) -> None:
    """Raise unless something listens at ``address`` (``HOST:PORT`` or ``ray://HOST:PORT``)."""
    host, _, port = address.removeprefix(_CLIENT).rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(
            f"address={address} is not a Ray cluster's address; use auto, HOST:PORT of its "
            "head (ray start --head prints it), or ray://HOST:PORT of its Ray Client server.",
            parameter="address",
            value=address,
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as e:
        there = (
            "start the cluster's head there with its Ray Client server (ray start --head "
            "--ray-client-server-port=PORT)"
            if address.startswith(_CLIENT)
            else "start the cluster's head there (ray start --head)"
        )
        raise ConfigError(
            f"Nothing answers at {shown} ({e.strerror or e}); {there}, or leave "
            "address=... out to start a local Ray.",
            parameter="address",
            value=address,
        ) from e


def _started_cluster() -> str | None:
    """The address ``ray start`` recorded on this machine, if any (Ray's own lookup)."""
    try:
        from ray._private.utils import read_ray_address
    except ImportError:  # a Ray that moved it: let Ray look for itself
        return "auto"
    found = read_ray_address()
    return str(found) if found else None


class _TaskActor:
    """Runs one task's process on a Ray worker (decorated with ``ray.remote`` on first use).

    The driver calls ``run`` (which returns when the process has ended) and, meanwhile,
    ``news`` again and again for what happened since its last call: plain calls, which Ray
    Client passes on (its driver cannot read a streaming generator's results,
    ray-project/ray#43357), and the same protocol on a node of the cluster.
    """

    def __init__(self, grace: float) -> None:
        from trialbook.execution._local import LocalExecutor

        self._local = LocalExecutor(1, grace=grace)
        self._stops: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._stopped: set[str] = set()
        self._news_ready = threading.Condition()
        #: Messages not yet handed to the driver, by task key.
        self._news: dict[str, list[tuple[str, Any]]] = {}

    def stop(self, key: str) -> None:
        """Ask ``run`` to stop task ``key``'s process (from another thread of this threaded
        actor); a request for a task this actor ran before is ignored."""
        self._stopped.add(key)
        self._stops.put(key)

    def news(self, key: str, timeout: float) -> list[tuple[str, Any]]:
        """What task ``key`` did since the last call, in order: ``("started", info)``,
        ``("output", lines)``..., and last ``("result", fields)``; waits up to ``timeout``
        seconds for something to tell (a call may come before ``run`` began)."""
        deadline = time.monotonic() + timeout
        with self._news_ready:
            while not self._news.get(key):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._news_ready.wait(remaining)
            news = self._news[key]
            told, rest = news[:_MESSAGES], news[_MESSAGES:]
            if rest:
                self._news[key] = rest
            else:
                del self._news[key]
            return told

    def _tell(self, key: str, kind: str, payload: Any) -> None:
        with self._news_ready:
            self._news.setdefault(key, []).append((kind, payload))
            self._news_ready.notify_all()

    def run(self, task: Task) -> None:
        """Run ``task``'s process to its end, telling ``news`` how it goes; the last message
        is its result (an error of this actor's own is the result's ``error``)."""
        try:
            result = self._run(task)
        except Exception as e:
            result = TaskResult(task.key, None, error=f"the Ray actor failed: {_first_line(e)}")
        self._tell(task.key, "result", asdict(result))

    def _run(self, task: Task) -> TaskResult:
        import psutil
        import ray

        from trialbook.execution._forkserver import CHILD_MODULE

        if task.key in self._stopped:
            return TaskResult(task.key, None, cancelled=True)
        if task.argv[1:] == ("-m", CHILD_MODULE):
            # A run of the Runner: with this worker's Python, which has trialbook (it runs
            # this actor), wherever the driver's is (another machine, through Ray Client).
            task = replace(task, argv=(sys.executable, *task.argv[1:]))
        lines: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()

        def on_output(_: Task, stream: Literal["stdout", "stderr"], line: str) -> None:
            lines.put((stream, line))

        handle = self._local.submit(task, on_output)
        job = self._local._jobs[task.key]  # the process, to tell the driver where it runs
        # The local executor's fork server reports the pid once the process exists.
        while job.pid is None and not job.ended.wait(0.005):
            pass
        pid = job.pid
        if pid is not None:
            try:
                created = psutil.Process(pid).create_time()
            except psutil.Error:
                created = None
            self._tell(
                task.key,
                "started",
                {
                    "started_at": job.started_at,
                    "pid": pid,
                    "create_time": created,
                    "node_id": ray.get_runtime_context().get_node_id(),
                },
            )
        while True:
            done = self._local.wait([handle], timeout=_POLL)
            while True:
                try:
                    key = self._stops.get_nowait()
                except queue.Empty:
                    break
                if key == task.key:
                    self._local.cancel(handle)  # a second one kills at once
            batch: list[tuple[str, str]] = []
            with contextlib.suppress(queue.Empty):
                while len(batch) < _BATCH:
                    batch.append(lines.get_nowait())
            if batch:
                self._tell(task.key, "output", batch)
            if done and lines.empty():
                return done[0]


class _Job(QueuedJob):
    """The driver's state of one task."""

    def __init__(self, number: int, handle: TaskHandle, on_output: OutputCallback | None) -> None:
        super().__init__(number, handle, on_output)
        self.actor: Any = None
        self.ready: Any = None  # resolves when Ray has started the actor
        self.started: dict[str, Any] | None = None
        self.cancels = 0
        self.reused = False  # runs on an actor kept from an earlier task


class RayExecutor(QueuedExecutor[_Job]):
    """Run each task's process inside a Ray actor, at most ``max_jobs`` at once.

    Each actor reserves the task's :class:`~trialbook.execution.Resources` (``cpus``, default
    1; ``gpus``; ``memory`` in bytes), so Ray runs fewer at once when they do not fit. The
    process sees the worker's environment with ``task.env`` on top (Ray sets
    ``CUDA_VISIBLE_DEVICES`` to the GPUs it reserved). Output files are written by the
    worker; on a cluster of several machines the run folders must be on a filesystem they
    all share.

    Building the executor starts nothing: :meth:`start` (or the first ``submit``) joins the
    cluster at ``address``, or starts a local Ray with this machine's CPUs on 127.0.0.1
    (no dashboard, no usage statistics); :meth:`close` stops that local Ray again. A Ray this
    process had already joined (``ray.init`` by the caller) is used as it is and left running.

    Args:
        max_jobs: how many tasks run (or wait for Ray's resources) at once.
        grace: seconds between SIGTERM and SIGKILL when a task is stopped.
        address: the cluster to join: ``auto`` (the one ``ray start`` started on this
            machine), ``HOST:PORT`` of its head, or ``ray://HOST:PORT`` of its Ray Client
            server (from a machine outside the cluster; see the module's docstring for what
            the cluster then needs); None starts a local Ray.
    """

    name = "ray"
    remote = True
    # A task whose slot freed is launched from ``wait`` within a second, whichever thread
    # saw its predecessor end.
    _wait_slice = 1.0

    def __init__(
        self, max_jobs: int = 1, *, grace: float = 10.0, address: str | None = None
    ) -> None:
        super().__init__(max_jobs, grace=grace)
        if address is not None and not address.strip():
            raise ConfigError(
                "address must name a Ray cluster (auto, HOST:PORT of its head or "
                "ray://HOST:PORT of its Ray Client server), not an empty string; leave it "
                "out to start a local Ray.",
                parameter="address",
                value=address,
            )
        self.address = address
        self._ray: Any = None
        self._actor_class: Any = None
        self._reaper: Any = None
        self._own_ray = False
        #: Tasks handed to Ray and not finished.
        self._launched: set[_Job] = set()
        #: Actors whose task ended, kept for the next task with the same resources.
        self._idle: list[tuple[Any, Any, threading.Timer]] = []

    # ----------------------------------------------------------------- interface
    def start(self) -> None:
        """Join the Ray cluster (or start a local one) now; later calls do nothing.

        Raises:
            ConfigError: Ray is not installed, or no cluster answers at ``address``.
        """
        if self._ray is not None:
            return
        # Ray's own variable stands for address= when none is given, as in Ray's tools.
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        ray = _import_ray(_is_loopback(address))
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "log_to_driver": False,  # output comes through the actors' news
                # Ray's notices (token authentication, ...) would interleave with the runs'.
                "logging_level": logging.ERROR,
            }
            if address is None:
                # num_cpus left to Ray: it counts the machine's CPUs within a container's
                # CPU quota, where os.cpu_count() sees the host's.
                options.update(include_dashboard=False, _node_ip_address="127.0.0.1")
            else:
                options["address"] = _reachable(address)
            try:
                with warnings.catch_warnings():
                    # Ray Client warns about its timeout, then raises what is said below.
                    warnings.simplefilter("ignore")
                    ray.init(**options)
            except (ConnectionError, ValueError, RuntimeError, TimeoutError) as e:
                if address is None:
                    raise ConfigError(
                        f"Cannot start a local Ray: {_first_line(e)}; check that this machine "
                        "can run Ray (ray start --head), or join a cluster with address=....",
                        parameter="address",
                        value=None,
                    ) from e
                raise ConfigError(
                    _join_failure(address, e), parameter="address", value=address
                ) from e
            self._own_ray = address is None
            if address is not None and ray.util.client.ray.is_connected():  # ray://
                # Ray Client relays its server's log (e.g. a traceback for each failure that
                # reaches us as an exception anyway), whatever log_to_driver says.
                logging.getLogger("ray.util.client.logsclient").setLevel(logging.CRITICAL)
                _check_cluster_side(ray, address)
        # Threads for run, news, stop and Ray's own readiness check, at once.
        self._actor_class = ray.remote(max_concurrency=4, max_restarts=0)(_TaskActor)
        self._reaper = ray.remote(num_cpus=0, max_retries=0)(_kill_group)
        self._ray = ray

    # ----------------------------------------------------------------- queue hooks
    def _new_job(self, number: int, handle: TaskHandle, on_output: OutputCallback | None) -> _Job:
        return _Job(number, handle, on_output)

    def _cancel_launched(self, job: _Job) -> None:
        with self._cond:
            if job.result is not None:
                return
            job.cancels += 1
        self._stop(job)

    def _release(self) -> None:
        self._drop_idle()
        if self._ray is not None and self._own_ray:
            self._ray.shutdown()
            self._ray = None
            self._own_ray = False

    # ----------------------------------------------------------------- internals
    def _stop(self, job: _Job) -> None:
        """Ask a launched task's actor to stop its process (once per call)."""
        with self._cond:
            actor, ready, started = job.actor, job.ready, job.started
        if actor is None:  # being launched by another thread, which stops it when launched
            return
        ray = self._ray
        if started is None and ready is not None:
            scheduled, _ = ray.wait([ready], timeout=0)
            if not scheduled:
                # Ray has not started the actor (no room yet): nothing runs, killing it is safe.
                with contextlib.suppress(Exception):
                    ray.kill(actor, no_restart=True)
                return
        with contextlib.suppress(Exception):  # a dead actor's stream says so by itself
            actor.stop.remote(job.task.key)

    def _launch(self, job: _Job, *, fresh: bool = False) -> None:
        """Run ``job`` on an idle actor kept for its resources, or on a new actor."""
        task = job.task
        actor = None if fresh else self._take_idle(task.resources)
        reused = job.reused = actor is not None
        if actor is None:
            problem = self._never_fits(task)
            if problem is not None:
                self._finish(job, TaskResult(task.key, None, error=problem))
                return
        try:
            if actor is None:
                res = task.resources
                options: dict[str, Any] = {"num_cpus": 1.0 if res.cpus is None else res.cpus}
                if res.gpus:
                    options["num_gpus"] = res.gpus
                if res.memory:
                    options["memory"] = res.memory
                actor = self._actor_class.options(**options).remote(self.grace)
            ran = actor.run.remote(task)
            # A kept actor is known to run; a new one may wait for Ray to find room.
            ready = None if reused else actor.__ray_ready__.remote()
        except Exception as e:  # Ray refused the actor or the call: the run cannot start,
            # and its slot frees (a task left launched would hold close() forever).
            if actor is not None:
                self._kill(actor)
            error = f"Ray could not start the run's actor ({_first_line(e)})"
            if isinstance(e, (AttributeError, ImportError)):
                # Through Ray Client, the cluster unpickles our classes where they are handed
                # over, and another trialbook there fails here.
                error += (
                    "; every node needs the same trialbook installed as the machine running "
                    "trialbook run"
                )
            self._finish(job, TaskResult(task.key, None, error=error))
            return
        with self._cond:
            job.actor = actor
            job.ready = ready
            self._launched.add(job)
            cancelled = job.cancels > 0
        if cancelled:
            self._stop(job)
        threading.Thread(
            target=self._follow, args=(job, ran), name=f"ray-{task.key}", daemon=True
        ).start()

    def _never_fits(self, task: Task) -> str | None:
        """Why a local Ray this executor started can never run ``task`` (a cluster it joined
        may grow, so there Ray keeps the task waiting)."""
        if not self._own_ray:
            return None
        res = task.resources
        total = self._ray.cluster_resources()
        asked = {
            "CPU": ("cpus", 1.0 if res.cpus is None else res.cpus, "CPUs"),
            "GPU": ("gpus", res.gpus or 0.0, "GPUs"),
            "memory": ("memory", float(res.memory or 0), "bytes of memory"),
        }
        for key, (name, amount, what) in asked.items():
            has = total.get(key, 0.0)
            if amount > has:
                asked_, has_ = (
                    (f"{amount:g}", f"{has:g}")
                    if key != "memory"
                    else (f"{int(amount):,}", f"{int(has):,}")
                )
                return (
                    f"it asks for experiment.resources.{name}={asked_} but the local Ray "
                    f"has {has_} {what}; lower it, or join a cluster that has them (--address)"
                )
        return None

    def _news(self, job: _Job, ran: Any) -> Iterator[tuple[str, Any]]:
        """The messages of ``job``'s actor, to its result.

        Raises:
            RayError: the actor died (or was never created).
            RuntimeError: its ``run`` ended without a result (it could not even start).
        """
        ray, actor, key = self._ray, job.actor, job.task.key
        while True:
            news = ray.get(actor.news.remote(key, _LONG_POLL))
            if not news:
                ended, _ = ray.wait([ran], timeout=0)
                if ended:  # ``run`` tells its result before it returns, so it is here now
                    news = ray.get(actor.news.remote(key, 0.0))
                    if not news:
                        ray.get(ran)  # raises why
                        raise RuntimeError("its run ended without a result")
            for message in news:
                yield message
                if message[0] == "result":
                    return

    def _follow(self, job: _Job, ran: Any) -> None:
        """Follow one actor's task to its end and record the task's result."""
        ray = self._ray
        fields: dict[str, Any] | None = None
        lost: str | None = None
        try:
            for kind, payload in self._news(job, ran):
                if kind == "started":
                    with self._cond:
                        job.started = payload
                elif kind == "output":
                    if job.on_output is not None:
                        for out, line in payload:
                            # A failing callback must not stop the stream.
                            with contextlib.suppress(Exception):
                                job.on_output(job.task, out, line)
                elif kind == "result":
                    fields = payload
        except ray.exceptions.RayError as e:
            with self._cond:
                unstarted = job.reused and job.started is None and not job.cancels
            if unstarted:
                # The kept actor died while it waited (its node went away): the task never
                # started, so it runs on a new actor instead.
                with self._cond:
                    self._launched.discard(job)
                self._launch(job, fresh=True)
                return
            if getattr(e, "actor_init_failed", False):
                # Not the run's fault nor a crash: this worker cannot run trialbook's actor.
                fields = asdict(TaskResult(job.task.key, None, error=_init_failure(e)))
            else:
                lost = _lost_reason(e)
        except Exception as e:  # recorded as the task's error: the actor failed, not lost
            fields = asdict(
                TaskResult(job.task.key, None, error=f"the Ray actor failed: {_first_line(e)}")
            )
        if fields is None and job.started is not None:
            self._reap(job.started)
        if fields is not None and fields["error"] is None and not job.cancels:
            self._keep(job)
        else:
            self._kill(job.actor)
        started = job.started or {}
        if fields is not None:
            fields["cancelled"] = fields["cancelled"] or job.cancels > 0
            result = TaskResult(**fields)
        elif job.cancels:
            result = TaskResult(
                job.task.key,
                None,
                cancelled=True,
                started_at=started.get("started_at"),
                duration=_since(started.get("started_at")),
            )
        else:
            result = TaskResult(
                job.task.key,
                None,
                started_at=started.get("started_at"),
                duration=_since(started.get("started_at")),
                lost=lost or "its Ray worker ended without a result",
            )
        self._finish(job, result)
        self._start_pending()

    def _keep(self, job: _Job) -> None:
        """Keep ``job``'s actor (its task ended normally) for the next task that asks for the
        same resources: a new actor costs a new worker process, about a second.

        It is killed instead when a task of ours waits for Ray to find room (the actor holds
        what it needs), and after :data:`_IDLE` seconds without a task, so an idle actor
        never holds resources anyone waits for for long.
        """
        with self._cond:
            waiting = any(j.started is None for j in self._launched if j is not job)
            if not waiting:
                timer = threading.Timer(_IDLE, self._expire, args=(job.actor,))
                timer.daemon = True
                self._idle.append((job.task.resources, job.actor, timer))
                timer.start()
                return
        self._kill(job.actor)

    def _expire(self, actor: Any) -> None:
        with self._cond:
            kept = [entry for entry in self._idle if entry[1] is actor]
            for entry in kept:
                self._idle.remove(entry)
        if kept:
            self._kill(actor)

    def _take_idle(self, resources: Any) -> Any:
        """An idle actor kept for ``resources``, or None; without one, the idle actors of
        other shapes are killed so that the new actor finds their resources free."""
        with self._cond:
            for entry in self._idle:
                if entry[0] == resources:
                    self._idle.remove(entry)
                    entry[2].cancel()
                    return entry[1]
        self._drop_idle()
        return None

    def _drop_idle(self) -> None:
        """Kill every idle actor."""
        with self._cond:
            idle, self._idle = self._idle, []
        for _, actor, timer in idle:
            timer.cancel()
            self._kill(actor)

    def _kill(self, actor: Any) -> None:
        """Kill ``actor`` now, freeing its resources (a dead one is fine)."""
        with contextlib.suppress(Exception):
            self._ray.kill(actor, no_restart=True)

    def _reap(self, started: dict[str, Any]) -> None:
        """Kill the process group a dead actor left behind, on the node it ran on."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        strategy = NodeAffinitySchedulingStrategy(started["node_id"], soft=False)
        with contextlib.suppress(Exception):  # the node itself is gone: so is the process
            ref = self._reaper.options(scheduling_strategy=strategy).remote(
                started["pid"], started["create_time"]
            )
            self._ray.get(ref, timeout=_REAP_TIMEOUT)

    def _finish(self, job: _Job, result: TaskResult) -> None:
        with self._cond:
            self._launched.discard(job)
        self._done(job, result)


def _join_failure(address: str, error: BaseException) -> str:
    """Why this process could not join the cluster at ``address``, in one sentence."""
    text = str(error)
    # Ray Client compares versions when it connects: "Version mismatch: The cluster was
    # started with:\n    Ray: 2.60.0\n    Python: 3.11.7\nThis process ... with: ...".
    found = re.findall(r"Ray: (\S+)\s+Python: (\S+)", text)
    if text.startswith("Version mismatch") and len(found) == 2:
        (ray_there, py_there), (ray_here, py_here) = found
        return (
            f"The Ray cluster at address={address} runs Ray {ray_there} on Python {py_there}, "
            f"this machine Ray {ray_here} on Python {py_here}; Ray Client needs the same Ray "
            "and the same Python (major.minor) on both."
        )
    return (
        f"Cannot join the Ray cluster at address={address}: {_first_line(error)}; check the "
        "address (a cluster with token authentication also needs RAY_AUTH_MODE=token and "
        "its token), or leave it out to start a local Ray."
    )


def _trialbook_version() -> str:
    """The version of trialbook where this runs (a Ray worker's)."""
    import trialbook

    return trialbook.__version__


def _check_cluster_side(ray: Any, address: str) -> None:
    """Raise unless the cluster behind a Ray Client ``address`` has this trialbook.

    Through Ray Client, a class or function of ours that the cluster cannot import is an
    error where the client hands it over, one per run, instead of the actor's own failure on
    a worker; checked once here, it is one sentence before anything is written.

    Raises:
        ConfigError: the cluster has no trialbook, or another version.
    """
    import trialbook

    ours = trialbook.__version__
    try:
        remote = ray.remote(num_cpus=0, max_retries=0)(_trialbook_version)
        theirs = ray.get(remote.remote(), timeout=_REAP_TIMEOUT)
    except Exception as e:
        problem = f"cannot run trialbook ({_first_line(e)})"
    else:
        if theirs == ours:
            return
        problem = f"has trialbook {theirs}"
    ray.shutdown()
    raise ConfigError(
        f"The Ray cluster at address={address} {problem}; install trialbook {ours} (and "
        "its ray extra) where the cluster runs, as on this machine.",
        parameter="address",
        value=address,
    )


def _kill_group(pgid: int, create_time: float | None) -> bool:
    """SIGKILL the process group ``pgid`` (a task's session); runs on the task's node."""
    import psutil

    try:
        leader = psutil.Process(pgid)
        if create_time is not None and leader.create_time() != create_time:
            return False  # the pid was reused: not ours
    except psutil.NoSuchProcess:
        pass  # the leader is gone; what is left of its group still carries its id
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _since(started_at: float | None) -> float:
    return 0.0 if started_at is None else max(0.0, time.time() - started_at)


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0].rstrip(".")


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _init_failure(error: BaseException) -> str:
    """Why an actor could not be created, from Ray's text (its last line is the cause)."""
    lines = [line.strip() for line in _ANSI.sub("", str(error)).splitlines() if line.strip()]
    where = re.search(r"ip=([^,)\s]+)", lines[0]) if lines else None
    on = f" on {where.group(1)}" if where else ""
    cause = lines[-1] if lines else type(error).__name__
    return (
        f"the Ray worker{on} could not create the run's actor ({cause}); every node needs the "
        "same trialbook installed as the machine running trialbook run"
    )


def _lost_reason(error: BaseException) -> str:
    """A sentence for a task whose actor died (``error`` is Ray's, many lines long)."""
    text = str(error)
    where = re.search(r"^\s*ip: (\S+)", text, re.MULTILINE)
    why = re.search(r"Worker exit detail: (.+?)(?:\.\s|\.?$)", text, re.MULTILINE) or re.search(
        r"The actor is dead because (.+?)(?:\.\s|\.?$)", text, re.MULTILINE
    )
    on = f" on {where.group(1)}" if where else ""
    reason = why.group(1) if why else f"{type(error).__name__}: {_first_line(error)}"
    return f"its Ray worker{on} died ({reason})"
