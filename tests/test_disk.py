"""A full disk is recognised the same way wherever it surfaces (OS, SQLite, PostgreSQL)."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from trialbook._disk import full_disk_cause, is_disk_full
from trialbook.errors import StoreError


class _PgError(Exception):
    sqlstate = "53100"


def _raised_from(cause: BaseException) -> StoreError:
    try:
        try:
            raise cause
        except BaseException as e:
            raise StoreError("Writing to the database failed.") from e
    except StoreError as wrapped:
        return wrapped


@pytest.mark.parametrize(
    "cause",
    [
        OSError(errno.ENOSPC, "No space left on device", "/ws/run/summary.json"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        sqlite3.OperationalError("database or disk is full"),
        _PgError("could not extend file"),
    ],
    ids=["enospc", "edquot", "sqlite-full", "postgres-53100"],
)
def test_a_full_disk_is_found_behind_the_error_that_reports_it(cause: BaseException) -> None:
    wrapped = _raised_from(cause)
    assert is_disk_full(wrapped)
    assert full_disk_cause(wrapped) is cause


def test_sqlalchemy_style_orig_is_followed() -> None:
    outer = StoreError("statement failed")
    outer.orig = OSError(errno.ENOSPC, "No space left on device")  # type: ignore[attr-defined]
    assert full_disk_cause(outer) is outer.orig  # type: ignore[attr-defined]


def test_the_oserror_naming_the_file_wins_over_a_sentence_saying_so() -> None:
    cause = OSError(errno.ENOSPC, "No space left on device", "/ws/run/summary.json")
    wrapped = _raised_from(cause)
    outer = StoreError("database or disk is full")
    outer.__cause__ = wrapped
    assert full_disk_cause(outer) is cause


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.EACCES, "Permission denied"),
        sqlite3.OperationalError("database is locked"),
        StoreError("Run 'x' not found."),
    ],
    ids=["eacces", "locked", "not-found"],
)
def test_other_failures_are_not_a_full_disk(error: BaseException) -> None:
    assert not is_disk_full(_raised_from(error))
    assert full_disk_cause(error) is None
