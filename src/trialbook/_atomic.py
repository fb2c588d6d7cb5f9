"""Writing files so that readers see the old or the new content, never half of it.

Every file trialbook writes (run folder files, reports, exports, plots) goes through
:func:`atomic_open`: a temporary file beside the target, renamed over it only when writing
succeeded, with the permissions a plain ``open`` would have given (``mkstemp`` makes files
readable by their owner only).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write", "current_umask"]

_umask_lock = threading.Lock()


def current_umask() -> int:
    # os.umask can only be read by setting it; the lock keeps two threads from racing.
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextmanager
def atomic_open(
    path: str | os.PathLike[str], mode: str = "w", *, newline: str | None = None
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing (``"w"`` text in UTF-8, or ``"wb"``); replace it atomically
    when the block ends without an exception, leave it untouched otherwise.

    Raises:
        OSError: the folder cannot be written (callers turn this into their own message).
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        if "b" in mode:
            f: IO[Any] = os.fdopen(fd, mode)
        else:
            f = os.fdopen(fd, mode, encoding="utf-8", newline=newline)
        with f:
            yield f
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path) as f:
        f.write(text)
