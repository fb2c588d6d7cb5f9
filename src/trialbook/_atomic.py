"""Writing files so that readers see the old or the new content, never half of it.

Every file trialbook writes (run folder files, reports, exports, plots) goes through
:func:`atomic_open`: a temporary file beside the target, flushed to disk (``fsync``) and
renamed over it only when writing succeeded, with the permissions a plain ``open`` would have
given (``mkstemp`` makes files readable by their owner only); the folder is fsynced after the
rename so that the new name survives a power cut too. A failed write (a full disk) leaves the
old file as it was and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write", "current_umask", "sync_folder"]

_umask_lock = threading.Lock()


def current_umask() -> int:
    # os.umask can only be read by setting it; the lock keeps two threads from racing.
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextmanager
def atomic_open(
    path: str | os.PathLike[str],
    mode: str = "w",
    *,
    newline: str | None = None,
    sync_folder: bool = True,
    sync: bool = True,
) -> Iterator[IO[Any]]:
    """Open ``path`` for writing (``"w"`` text in UTF-8, or ``"wb"``); replace it atomically
    when the block ends without an exception, leave it untouched otherwise.

    ``sync_folder=False`` leaves the folder's fsync to the caller, which writes several files
    into one folder and then calls :func:`sync_folder` once. ``sync=False`` leaves both the
    file's and the folder's fsync to the caller (who syncs them soon after, off the caller's
    thread: ``RunFolder.sync_later``); the replace is still atomic for every reader.

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
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync and sync_folder:
        _fsync_folder(target.parent)


def sync_folder(folder: str | os.PathLike[str]) -> None:
    """Make the files renamed into ``folder`` (by ``atomic_open(..., sync_folder=False)``)
    survive a power cut."""
    _fsync_folder(Path(folder))


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Make the contents of the file at ``path`` (written with ``sync=False``) durable.

    Raises:
        OSError: the file cannot be opened or synced.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable; not every system can open a folder to sync it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str], text: str, *, sync_folder: bool = True, sync: bool = True
) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, sync_folder=sync_folder, sync=sync) as f:
        f.write(text)
