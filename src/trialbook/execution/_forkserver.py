"""The local executor's fork server: one process that starts every task of a LocalExecutor.

Starting a fresh interpreter for each run costs ~0.3 s, almost all of it importing trialbook
and SQLAlchemy. The server imports them once and then *forks* one child per run, which starts
with everything loaded. Each task still gets a process of its own: the child calls
``setsid()`` (its own session and process group, so a timeout or cancel reaches everything it
started), gets the task's pipes as stdout/stderr, its working directory and its environment,
and asks Linux to send it SIGTERM when the server dies. The server, in turn, dies when the
executor's process does (``PR_SET_PDEATHSIG`` and the end of its socket), so a killed Runner
leaves no orphans.

Two kinds of task:

* ``fork``: ``python -m trialbook.execution._child`` (every run of the Runner). The child
  returns from :func:`serve` and runs that module's ``main()`` as ``__main__``, as
  ``python -m`` would, then leaves as interpreter shut-down would (threads joined, atexit,
  open files closed, streams flushed) but by ``os._exit`` (:func:`_leave`).
* ``exec``: any other program. The child ``exec``s it; a program that cannot start is
  reported as an error, like ``subprocess.Popen`` does.

Settings that only take effect when an interpreter starts (``PYTHONHASHSEED``, any other
``PYTHON*`` variable, ``LD_*``, the locale) cannot change in a forked child, so a server serves
only ``fork`` tasks whose values of these variables are its own: the executor keeps one server
per set of values (:func:`start_key`). The Runner gives every run the same ``PYTHONHASHSEED``
(not its seed), so one server forks the runs of every seed.

The protocol, over a ``SOCK_SEQPACKET`` socket pair (one JSON object per message):

* executor -> server: ``{"id", "mode", "argv", "cwd", "env"}`` with the write ends of the
  task's stdout and stderr pipes attached (``SCM_RIGHTS``);
* server -> executor: ``{"id", "pid", "at", "mono"}`` once the child runs, or
  ``{"id", "error"}`` when it could not start; then ``{"id", "code", "mono"}`` when it exits
  (``code`` as ``subprocess`` gives it: negative for a signal).

The server is single-threaded (forking a process that has threads copies locks held by
threads that do not exist in the child); :mod:`multiprocessing.forkserver` works the same way,
but it runs Python functions with pickled arguments and keeps no process groups, pipes or exit
statuses of its own, which is what a task needs here.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["CHILD_MODULE", "ForkServer", "start_key"]

#: The module the Runner runs in each run's process; a task running it is forked.
CHILD_MODULE = "trialbook.execution._child"
#: Environment variables that take effect only when a process (or interpreter) starts.
_START_PREFIXES = ("PYTHON", "LD_", "LC_", "MALLOC_")
_START_NAMES = frozenset({"LANG", "LANGUAGE", "GLIBC_TUNABLES"})
#: Largest message either side sends (an environment of a few hundred variables is ~10 KB).
_MAX_MESSAGE = 1 << 20
#: The folder this process started in (``python -m`` put it first on sys.path).
_STARTED_IN = os.getcwd()
_PR_SET_PDEATHSIG = 1


def start_key(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The variables of ``env`` a forked child would inherit from its server, not take from
    ``env``: tasks whose keys differ need different servers."""
    return tuple(
        sorted((k, v) for k, v in env.items() if k.startswith(_START_PREFIXES) or k in _START_NAMES)
    )


def forkable(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is ``python -m trialbook.execution._child`` for this Python."""
    return tuple(argv) == (sys.executable, "-m", CHILD_MODULE)


# ----------------------------------------------------------------------------- executor side
class ForkServer:
    """The executor's handle on one server process.

    ``on_event(task_id, message)`` is called from the server's reader thread for every
    message the server sends, and with ``{"lost": reason}`` for each unfinished task when the
    server dies without reporting them. With ``warm``, the server imports what runs need as
    soon as it starts, not at its first ``fork`` task.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        on_event: Callable[[int, dict[str, Any]], None],
        *,
        warm: bool = False,
    ) -> None:
        import subprocess
        import threading

        self.key = start_key(env)
        self._on_event = on_event
        self._lock = threading.Lock()
        self._open: set[int] = set()
        self._closed = False
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    __name__,
                    str(theirs.fileno()),
                    str(os.getpid()),
                    *(["warm"] if warm else []),
                ],
                env=dict(env),
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                # Not in the Runner's process group: Ctrl-C at the terminal reaches only the
                # Runner, which decides what to stop.
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._sock = ours
        self._reader = threading.Thread(target=self._read, name="trialbook-forkserver", daemon=True)
        self._reader.start()

    @property
    def alive(self) -> bool:
        """The server takes tasks (it has not stopped or died)."""
        with self._lock:
            return not self._closed

    @property
    def busy(self) -> int:
        """How many tasks of this server have not finished."""
        with self._lock:
            return len(self._open)

    def launch(
        self,
        task_id: int,
        *,
        fork: bool,
        argv: Sequence[str],
        cwd: str,
        env: Mapping[str, str],
        fds: Sequence[int],
    ) -> None:
        """Ask the server to start a task whose stdout and stderr are ``fds``.

        Raises:
            OSError: the server is gone or the message is too large.
        """
        message = json.dumps(
            {
                "id": task_id,
                "mode": "fork" if fork else "exec",
                "argv": list(argv),
                "cwd": cwd,
                "env": dict(env),
            }
        ).encode()
        with self._lock:
            if self._closed:
                raise OSError(errno.EPIPE, "the fork server has stopped")
            self._open.add(task_id)
        try:
            socket.send_fds(self._sock, [message], list(fds))
        except OSError:
            with self._lock:
                self._open.discard(task_id)
            raise

    def stop(self) -> None:
        """Ask the server to exit (it does when its socket closes); returns at once."""
        with self._lock:
            self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Stop the server and wait for it."""
        self.stop()
        try:
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=10)
        self._sock.close()

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(_MAX_MESSAGE)
            except OSError:
                data = b""
            if not data:
                break
            message = json.loads(data)
            task_id = int(message.pop("id"))
            if "code" in message or "error" in message:
                with self._lock:
                    self._open.discard(task_id)
            self._on_event(task_id, message)
        with self._lock:
            self._closed = True
            lost, self._open = self._open, set()
        for task_id in sorted(lost):
            self._on_event(task_id, {"lost": "the local executor's fork server stopped"})


# ------------------------------------------------------------------------------- server side
_libc: Any = None


def _set_parent_death_signal(sig: int) -> None:
    global _libc
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        if _libc is None:  # loaded once, by the server: each child finds it loaded
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def _warm_imports() -> None:
    """Import what every run needs and fill the per-process caches its start-up uses."""
    import trialbook.execution._code  # noqa: F401 - parses the entrypoint (and imports shlex)
    from trialbook.execution._child import _import_trialbook
    from trialbook.tracking._provenance import warm_caches

    _import_trialbook()
    warm_caches()


def _warm(env: Mapping[str, str]) -> None:
    """Before the first fork (of a run whose environment is ``env``): the imports and caches,
    and the Store's Engine; so that each forked child starts with them. Then freeze those
    objects: the collector never walks them again, in the server or in any child."""
    import gc

    from trialbook.execution._child import RUN_ID_ENV

    _warm_imports()
    _warm_store(env.get(RUN_ID_ENV), env.get("TRIALBOOK_ROOT"), env.get("TRIALBOOK_STORE"))
    gc.freeze()


def _warm_store(run_id: str | None, root: str | None, store_url: str | None) -> None:
    """Open the Store the runs use (``TRIALBOOK_STORE``, set by the Runner) and read what a run
    reads (the run, its metric summaries and evaluations), then close it: the process keeps
    that URL's Engine with the statements it compiled, and each child's Store takes it over
    with a pool of its own (``store/_connect.py``), as any Store opened after a fork does.
    Nothing is written and no connection stays open."""
    if not run_id or not store_url:
        return
    from trialbook._workspace import Workspace

    with contextlib.suppress(Exception), Workspace.resolve(root, store_url).open_store() as db:
        db.get_run(run_id)
        db.metric_summaries([run_id])
        db.evaluations(run_id)


class _Server:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.children: dict[int, tuple[int, float]] = {}  # pid -> (task id, start mono)
        self.warm = False
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(sock, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # the executor is gone; its children follow us
            self.sock.send(json.dumps(message).encode())

    def serve(self) -> dict[str, Any] | None:
        """Serve until the executor closes the socket (None), or return, in a new child,
        the task that child is to run."""
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.sock:
                    try:
                        data, fds, _flags, _addr = socket.recv_fds(self.sock, _MAX_MESSAGE, 4)
                    except OSError:
                        data, fds = b"", []
                    if not data:
                        self.stop()
                        return None
                    task = self.start(json.loads(data), fds)
                    if task is not None:
                        return task
                else:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wake_r, 512):
                            pass
                    self.reap()

    def start(self, task: dict[str, Any], fds: list[int]) -> dict[str, Any] | None:
        fork = task["mode"] == "fork"
        if fork and not self.warm:
            self.warm = True
            # A failure here is the child's to report, when it imports the same modules.
            with contextlib.suppress(Exception):
                _warm(task["env"])
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(err_r)
            self._become_task(task, fds, err_w)
            return task  # only a forked task gets here
        os.close(err_w)
        for fd in fds:
            os.close(fd)
        with os.fdopen(err_r, "rb") as pipe:
            failure = pipe.read()  # empty once the child is set up (or has exec'd)
        if failure:
            os.waitpid(pid, 0)
            where, _, number = failure.decode().partition(":")
            reason = os.strerror(int(number)) if number.isdigit() else number
            if where == "cwd":
                error = f"cannot change to the working directory {task['cwd']}: {reason}"
            else:
                error = f"cannot start {task['argv'][0]!r}: {reason}"
            self.send({"id": task["id"], "error": error})
            return None
        self.children[pid] = (task["id"], time.monotonic())
        self.send({"id": task["id"], "pid": pid, "at": time.time(), "mono": time.monotonic()})
        return None

    def _become_task(self, task: dict[str, Any], fds: list[int], err_w: int) -> None:
        """In the new child: its own session, pipes, directory and environment; then exec
        the program, or return to run ``CHILD_MODULE`` (``fork`` mode)."""
        where = "setup"
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            self.selector.close()
            self.sock.close()
            os.close(self.wake_r)
            os.close(self.wake_w)
            os.setsid()
            server = os.getppid()
            _set_parent_death_signal(signal.SIGTERM)
            if os.getppid() != server:  # the server died before the request took effect
                os.kill(os.getpid(), signal.SIGTERM)
            null = os.open(os.devnull, os.O_RDONLY)
            for fd, target in ((null, 0), (fds[0], 1), (fds[1], 2)):
                os.dup2(fd, target)
            for fd in {null, *fds}:
                if fd > 2:
                    os.close(fd)
            where = "cwd"
            os.chdir(task["cwd"])
            where = "exec"
            env: dict[str, str] = task["env"]
            argv: list[str] = task["argv"]
            if task["mode"] == "exec":
                os.execvpe(argv[0], argv, env)
            os.environ.clear()
            os.environ.update(env)
            # As `python -m` sets them; runpy puts the module's file in sys.argv[0]. The
            # server's own sys.path[0] is the folder it started in, which need not be the
            # task's (a Ray worker's server): `python -m` puts the working directory there.
            if sys.path and sys.path[0] == _STARTED_IN:
                sys.path[0] = os.getcwd()
            sys.argv = ["-m", *argv[3:]]
            sys.orig_argv = list(argv)
            os.close(err_w)
        except BaseException as e:
            number = e.errno if isinstance(e, OSError) and e.errno else str(e) or type(e).__name__
            with contextlib.suppress(OSError):
                os.write(err_w, f"{where}:{number}".encode())
            os._exit(127)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            entry = self.children.pop(pid, None)
            if entry is None:
                continue
            # Whatever the task left running in its group goes with it, and its pipes close.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            code = os.waitstatus_to_exitcode(status)
            self.send({"id": entry[0], "code": code, "mono": time.monotonic()})

    def stop(self) -> None:
        """The executor is gone: its tasks are asked to stop, as when it dies."""
        for pid in self.children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)


def main(argv: Sequence[str]) -> int:
    """``python -m trialbook.execution._forkserver FD PARENT_PID [warm]``: serve on socket FD
    (with ``warm``, import what runs need first)."""
    sock = socket.socket(fileno=int(argv[0]))
    parent = int(argv[1])
    _set_parent_death_signal(signal.SIGKILL)
    if os.getppid() != parent:  # the executor died before the request took effect
        return 1
    if argv[2:] == ["warm"]:
        # A failure here is the child's to report, when it imports the same modules.
        with contextlib.suppress(Exception):
            _warm_imports()
    task = _Server(sock).serve()
    if task is None:
        return 0
    # What `python -m trialbook.execution._child` runs: its main(), from the module the
    # warm-up imported (not compiled and run again), as __main__ (so that multiprocessing's
    # spawn finds it) with sys.argv[0] its file. The task ends with what interpreter shut-down
    # would do for it (_leave); an exception main() lets out (not SystemExit) goes through
    # normal shut-down.
    from trialbook.execution import _child

    sys.argv[0] = _child.__file__ or sys.argv[0]
    sys.modules["__main__"] = _child
    try:
        status: object = _child.main()
    except SystemExit as e:
        status = e.code
    _leave(status)
    return 0  # pragma: no cover - _leave does not return


def _leave(code: object) -> None:
    """End a forked task as interpreter shut-down would, without tearing the interpreter down.

    Shut-down joins the non-daemon threads, runs the ``atexit`` handlers, flushes the standard
    streams, and then frees every object, those inherited from the server included: each
    free writes to a page the child shares with the server, so the kernel copies it, and
    that costs tens of milliseconds per run. Here the first three happen as they would, files
    the task left open are closed (as their finalizers would close them), and then
    ``os._exit``. Like any interpreter exit, it does not promise to call ``__del__`` of
    objects still alive; their memory goes back with the process.
    """
    import atexit
    import threading

    status = _exit_status(code)
    with contextlib.suppress(Exception):
        threading._shutdown()  # type: ignore[attr-defined]  # as Py_FinalizeEx does first
    atexit._run_exitfuncs()
    _close_open_files()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    os._exit(status)


def _exit_status(code: object) -> int:
    """The exit status ``sys.exit(code)`` gives (None: 0; a number; anything else printed to
    stderr, 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def _close_open_files() -> None:
    """Close the file objects the task left open, outermost first (a text file before its
    buffer, a ``GzipFile`` before the file it writes to), as their finalizers would at
    interpreter exit: nothing written to them is lost. Only objects made after the fork are
    looked at (the server's were frozen out of the collector's lists); the standard streams
    are flushed by the caller."""
    import gc
    import io

    keep = {id(s) for s in (sys.stdin, sys.stdout, sys.stderr) if s is not None}
    keep |= {id(getattr(s, "buffer", None)) for s in (sys.stdout, sys.stderr) if s is not None}

    def is_open(obj: object) -> bool:
        try:
            return isinstance(obj, io.IOBase) and id(obj) not in keep and not obj.closed
        except Exception:
            return False

    files = [obj for obj in gc.get_objects() if is_open(obj)]
    for _ in range(8):
        if not files:
            return
        ids = {id(f) for f in files}
        inner: set[int] = set()
        for f in files:
            refs = gc.get_referents(f)
            refs += [v for r in refs if isinstance(r, dict) for v in r.values()]
            inner.update(id(r) for r in refs if id(r) in ids and r is not f)
        outer = [f for f in files if id(f) not in inner] or files
        for f in outer:
            with contextlib.suppress(Exception):
                f.close()
        files = [f for f in files if is_open(f)]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
