"""Exceptions raised by trialbook.

Every error a user can cause is a sentence that names the bad value and the fix. The CLI
prints ``str(error)`` and exits with status 2; library callers catch :class:`TrialbookError`.

The tree::

    TrialbookError
    ├── ConfigError (ValueError)          bad config, option or argument
    │   └── MetricValueError (TypeError)  a logged metric value is not a number
    ├── WorkspaceError (OSError)          workspace missing or not writable
    ├── StoreError                        the database cannot be used
    │   ├── SchemaVersionError            the database needs ``trialbook db upgrade``
    │   └── NotATrialbookDatabase         a corrupt or foreign database file
    ├── RunNotFoundError (LookupError)    no run matches an id, prefix or name
    │   └── AmbiguousRunError             a prefix or name matches several runs
    │       └── AmbiguousNameError        a name fits seed groups no rule chooses between
    ├── RunStateError (RuntimeError)      a run used after it finished, or twice
    └── ModelError (RuntimeError)         a model cannot generate (endpoint unreachable...)
"""

from __future__ import annotations

from typing import Any

# Helpers that look through an exception's chain (not exceptions, so not in __all__).
from trialbook._disk import error_chain as error_chain
from trialbook._disk import full_disk_cause as full_disk_cause

__all__ = [
    "AmbiguousNameError",
    "AmbiguousRunError",
    "ConfigError",
    "MetricValueError",
    "ModelError",
    "NotATrialbookDatabase",
    "RunNotFoundError",
    "RunStateError",
    "SchemaVersionError",
    "StoreError",
    "TrialbookError",
    "WorkspaceError",
]


class TrialbookError(Exception):
    """Root of every exception trialbook raises on purpose.

    The message is in the library's words: it names the Python parameter (``jobs=0``), never
    a command-line flag or command. Two optional fields say what it is about, so that a caller
    (the CLI, the dashboard) can put it in its own words:

    * ``parameter``: the name of the parameter whose value is wrong (``"jobs"``, ``"out"``,
      ``"root"``), as the function that raised spells it; the CLI maps it to its flag
      (``--jobs``) in one place (``trialbook.cli._errors``).
    * ``value``: the value that was refused.

    So that the CLI can put a message in its words, a message writes a parameter in one of
    these ways: ``name=value`` (``"out=runs/ is a folder"``: the CLI says ``--out runs/``),
    ``name=...`` for the parameter alone (``"choose another root=..."``: ``--root``),
    ``name=True`` for an on/off parameter (``--force``), or, for the error's own
    ``parameter``, the name as the message's first word (``"jobs must be at least 1"``).
    A message does not tell Python users which command to run; the CLI adds such hints by
    error type (after a :class:`RunNotFoundError`: "list runs with `trialbook ls`").
    """

    def __init__(self, message: str = "", *, parameter: str | None = None, value: Any = None):
        super().__init__(message)
        self.parameter = parameter
        self.value = value


class ConfigError(TrialbookError, ValueError):
    """A config value, option or argument is invalid."""


class MetricValueError(ConfigError, TypeError):
    """A value passed to ``Run.log`` is not a number."""


class WorkspaceError(TrialbookError, OSError):
    """The workspace folder is missing, unreadable or unwritable."""


class StoreError(TrialbookError):
    """The Store's database cannot be opened, read or written."""


class SchemaVersionError(StoreError):
    """The database schema is older (or newer) than this version of trialbook expects."""


class NotATrialbookDatabase(StoreError):
    """The file is corrupt, or is a database that trialbook did not create."""


class RunNotFoundError(TrialbookError, LookupError):
    """No run matches the given id, id prefix or name."""


class AmbiguousRunError(RunNotFoundError):
    """An id prefix or name matches more than one run."""


class AmbiguousNameError(AmbiguousRunError):
    """A name fits several seed groups and no rule picks one (groups of different
    experiments); ``choices`` are their ``group:<key>`` references, which the CLI turns into
    the command to paste."""

    def __init__(self, message: str, *, name: str, choices: tuple[str, ...]) -> None:
        super().__init__(message)
        self.name = name
        self.choices = choices


class RunStateError(TrialbookError, RuntimeError):
    """A run was used in a state that does not allow it (for example logged after finish)."""


class ModelError(TrialbookError, RuntimeError):
    """A model being evaluated cannot generate: its endpoint is unreachable, refuses the API
    key, times out or keeps failing."""
