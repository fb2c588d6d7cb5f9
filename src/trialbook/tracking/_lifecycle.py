"""Finishing runs when the process ends: normal exit, uncaught exception, SIGTERM, Ctrl-C.

A run that is still open at interpreter exit is finished by an ``atexit`` hook with the
status the exit deserves: ``failed`` after an uncaught exception (its traceback saved),
``killed`` after SIGTERM or Ctrl-C, ``completed`` otherwise. SIGTERM is turned into
``SystemExit(143)`` so that ``with`` blocks and ``finally`` clauses run and flush.
A process killed with SIGKILL cannot run anything: readers detect it (see liveness).

A process forked while runs are open (``multiprocessing`` with ``fork``, DataLoader workers)
inherits them but owns none: the fork hook empties the list of runs to finish and tells each
run it is in a child (:meth:`Run._after_fork`); a child that logs flushes its points at exit
(:func:`at_child_exit`), through ``multiprocessing``'s finalizers (its children leave through
``os._exit``, which skips ``atexit``) and ``atexit`` (plain ``os.fork`` children).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import traceback
import weakref
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trialbook.tracking._run import Run

__all__ = ["at_child_exit", "register", "track", "unregister"]

_active: list[Run] = []
#: Every Run object alive in this process (opened here, inherited or unpickled).
_known: weakref.WeakSet[Run] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_uncaught: tuple[type[BaseException], str] | None = None
_signalled = False
_previous_excepthook = sys.excepthook


def _excepthook(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    global _uncaught
    _uncaught = (exc_type, "".join(traceback.format_exception(exc_type, exc, tb)))
    _previous_excepthook(exc_type, exc, tb)


def _on_sigterm(signum: int, _frame: FrameType | None) -> None:
    global _signalled
    if _signalled:
        # Already stopping. A second SIGTERM must not abort the finish in progress: a process
        # whose dying parent had several threads gets its parent-death signal once per thread.
        return
    _signalled = True
    raise SystemExit(128 + signum)


def _at_exit() -> None:
    with _lock:
        runs = list(_active)
    for run in reversed(runs):
        if _uncaught is not None and not issubclass(_uncaught[0], KeyboardInterrupt | SystemExit):
            run.finish("failed", error=_uncaught[1])
        elif _signalled or (_uncaught is not None and issubclass(_uncaught[0], KeyboardInterrupt)):
            run.finish("killed", error="The process was interrupted (SIGTERM or Ctrl-C).")
        else:
            run.finish("completed")


def _install() -> None:
    global _installed, _previous_excepthook
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):  # pragma: no cover - embedded interpreters
            pass


def register(run: Run) -> None:
    """Finish ``run`` at process exit if nobody else does."""
    with _lock:
        _install()
        _active.append(run)
        _known.add(run)


def track(run: Run) -> None:
    """Know about ``run`` (one this process did not open) for forks made from here."""
    with _lock:
        _known.add(run)


#: Writer locks taken before a fork, released after it in the parent.
_held: list[threading.Lock] = []


def _before_fork() -> None:
    for run in list(_known):
        lock = run._fork_lock()
        # Bounded: a flush stuck on a locked database must not block the fork forever.
        if lock is not None and lock.acquire(timeout=10):
            _held.append(lock)


def _after_fork_in_parent() -> None:
    while _held:
        _held.pop().release()


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # another thread may have held it at the fork
    _held.clear()  # the parent's writers' locks: this process gets writers of its own
    _active.clear()  # the parent finishes its runs; this process finishes none
    for run in list(_known):
        run._after_fork()


def at_child_exit(callback: Callable[[], None]) -> None:
    """Call ``callback`` when this (child) process exits, however it exits normally."""
    import multiprocessing.util

    done = threading.Event()

    def once() -> None:
        if not done.is_set():
            done.set()
            callback()

    multiprocessing.util.Finalize(None, once, exitpriority=0)
    atexit.register(once)


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


def unregister(run: Any) -> None:
    with _lock:
        if run in _active:
            _active.remove(run)
