"""Recognising a full disk (or a used-up quota) behind an error, whoever raised it.

The writer thread retries while the disk is full, the Runner turns a full disk into one
sentence, and the CLI names what could not be written: all three ask this module, so a
full disk reported by the OS, by SQLite or by PostgreSQL is recognised the same way.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

__all__ = ["FULL_ERRNOS", "error_chain", "full_disk_cause", "is_disk_full"]

#: ``OSError.errno`` values that mean no more can be written (disk full, quota used up).
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13  # the primary result code (the low byte of an extended one)
_PG_DISK_FULL = "53100"


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and every exception behind it (causes, contexts, SQLAlchemy's ``orig``)."""
    seen: set[int] = set()
    todo: list[BaseException] = [error]
    while todo:
        x = todo.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        yield x
        for nxt in (x.__cause__, x.__context__, getattr(x, "orig", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def full_disk_cause(error: BaseException) -> BaseException | None:
    """The exception in ``error``'s chain that says the disk or quota is full, else None.

    An error code (an OSError's errno, SQLite's or PostgreSQL's code) wins over a message that
    only says so in words, so that the OSError naming the file is the one returned.
    """
    chain = list(error_chain(error))
    for x in chain:
        if isinstance(x, OSError) and x.errno in FULL_ERRNOS:
            return x
        code = getattr(x, "sqlite_errorcode", None)
        if isinstance(code, int) and code & 0xFF == _SQLITE_FULL:
            return x
        if getattr(x, "sqlite_errorname", None) == "SQLITE_FULL":
            return x
        if _PG_DISK_FULL in (getattr(x, "sqlstate", None), getattr(x, "pgcode", None)):
            return x
    for x in chain:
        text = str(x).lower()
        if "disk is full" in text or "no space left" in text:
            return x
    return None


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) says the disk or quota is full."""
    return full_disk_cause(error) is not None
