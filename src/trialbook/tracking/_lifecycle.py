"""Finishing runs when the process ends: normal exit, uncaught exception, SIGTERM, Ctrl-C.

A run that is still open at interpreter exit is finished by an ``atexit`` hook with the
status the exit deserves: ``failed`` after an uncaught exception (its traceback saved),
``killed`` after SIGTERM or Ctrl-C, ``completed`` otherwise. SIGTERM is turned into
``SystemExit(143)`` so that ``with`` blocks and ``finally`` clauses run and flush.
A process killed with SIGKILL cannot run anything: readers detect it (see liveness).
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
import traceback
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trialbook.tracking._run import Run

__all__ = ["register", "unregister"]

_active: list[Run] = []
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


def unregister(run: Any) -> None:
    with _lock:
        if run in _active:
            _active.remove(run)
