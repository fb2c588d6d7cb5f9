"""A library error in the command line's words: the one place where a
:class:`~trialbook.errors.TrialbookError`'s sentence, written for Python callers, becomes the
sentence ``trialbook`` prints.

Library messages name Python parameters (``jobs=0``, ``out=...``) and carry the parameter in
``error.parameter``. Here that parameter becomes the option of the command that was invoked
(found by name among the click command's parameters), as do ``root`` and ``store_url``
(:data:`FLAGS`, the workspace options every command takes), and errors of some types get a
hint naming the command that helps (:func:`hint`). Any other option of the command written
as ``name=...`` is rewritten too (a message may name several); text that is not an option of
the command, or that sits inside a URL or spec (``?model=NAME&timeout=60``), is left alone.
The spellings rewritten:

* ``name=...`` (a literal ellipsis: "choose another root=...") becomes ``--name``;
* ``name=True`` of an on/off option becomes ``--name``;
* ``name=<value>`` becomes ``--name <value>`` (the value as the library wrote it);
* the error's own ``parameter`` as the message's first word ("jobs must be at least 1")
  becomes ``--jobs``.

A parameter that is an argument of the command (``RUN``) is replaced by its value alone; a
parameter the command does not take is left as the library wrote it.
"""

from __future__ import annotations

import re
from typing import Any

from typer.core import TyperGroup

from trialbook.errors import (
    AmbiguousRunError,
    ConfigError,
    RunNotFoundError,
    SchemaVersionError,
    TrialbookError,
)

__all__ = [
    "FLAGS",
    "CommandGroup",
    "cli_message",
    "hint",
    "invoked_command",
    "option_spellings",
]

#: Parameters whose Python name is not the name of an option of the invoked command, and the
#: option that sets them (every command takes the workspace options).
FLAGS: dict[str, str] = {
    "root": "--root",
    "store_url": "--store",
}

#: ``ctx.meta`` key (shared by a context and its children) under which the command groups
#: record the command they invoke.
_COMMAND_KEY = "trialbook.command"


class CommandGroup(TyperGroup):
    """A command group that records the (sub)command it invokes, so that an error handler
    above it knows whose options to name (:func:`invoked_command`)."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name, command, rest = super().resolve_command(ctx, args)
        if command is not None:
            ctx.meta[_COMMAND_KEY] = command
        return name, command, rest


def invoked_command(ctx: Any) -> Any:
    """The innermost command that ``ctx``'s groups invoked (a click command), else None."""
    return ctx.meta.get(_COMMAND_KEY) if ctx is not None else None


def option_spellings(command: Any) -> dict[str, tuple[str, bool]]:
    """``python name -> (spelling, is_flag)`` for ``command``'s parameters (a click command,
    or None): an option's first long name (``--out-dir``), and ``""`` for an argument."""
    spellings: dict[str, tuple[str, bool]] = {}
    for param in getattr(command, "params", None) or ():
        name = getattr(param, "name", None)
        if not name:
            continue
        # Duck-typed: typer may carry its own copy of click's classes.
        if getattr(param, "param_type_name", "") == "argument":
            spellings[name] = ("", False)
            continue
        opts = list(getattr(param, "opts", ()))
        long = [o for o in opts if o.startswith("--")]
        if long or opts:
            spelling = ((long or opts)[0], bool(getattr(param, "is_flag", False)))
            spellings[name] = spelling
            # A Python keyword is given a trailing underscore (set_); the library says set.
            spellings.setdefault(name.rstrip("_"), spelling)
    return spellings


def _rewrite(message: str, name: str, spelling: str, is_flag: bool, bare: bool) -> str:
    """``message`` with the Python spelling of parameter ``name`` replaced by ``spelling``."""
    # Not part of a longer name, a URL or a spec (openai:URL?model=NAME&timeout=60).
    before = r"(?<![\w.\-=`'\"?&/:@$])"
    key = before + re.escape(name) + "="
    if spelling:
        message = re.sub(key + r"(?:\.\.\.|\u2026)", spelling, message)
        if is_flag:
            message = re.sub(key + r"True\b", spelling, message)
    # "name=value" -> "--name value" (an argument: just the value).
    message = re.sub(key + r"(?!=)", f"{spelling} " if spelling else "", message)
    if bare and spelling:
        message = re.sub("^" + re.escape(name) + r"(?![\w(=\-])", spelling, message)
    return message


def hint(error: TrialbookError, message: str, store_url: str | None = None) -> str:
    """``message`` with the command-line hint for ``error``'s type, when it has none yet: a
    run that is not found points at ``trialbook ls``; an unknown experiment at
    ``trialbook ls --by group``; a database older than this trialbook
    at ``trialbook db upgrade`` (with the options naming ``store_url``, the database the
    command used)."""
    end = message.rstrip().rstrip(".")
    if (
        isinstance(error, RunNotFoundError)
        and not isinstance(error, AmbiguousRunError)
        and "trialbook ls" not in message
    ):
        return f"{end}; list runs with `trialbook ls`."
    if (
        isinstance(error, ConfigError)
        and error.parameter == "experiment"
        and message.startswith("No experiment ")
    ):
        return f"{message.rstrip()} (list them with `trialbook ls --by group`)"
    if (
        isinstance(error, SchemaVersionError)
        and "db upgrade" not in message
        and "newer" not in message
    ):
        from trialbook.store import store_flag

        flag = store_flag(store_url) if store_url else ""
        return f"{end}; back it up and run `trialbook db upgrade{flag}`."
    return message


def cli_message(error: TrialbookError, command: Any = None, store_url: str | None = None) -> str:
    """The sentence ``trialbook`` prints for ``error`` raised while ``command`` (the invoked
    click command, or None) ran on the database at ``store_url`` (if known): its parameters
    spelled as the command's options, plus the hint for its type."""
    message = str(error) or type(error).__name__
    spellings = option_spellings(command)
    for name, flag in FLAGS.items():
        spellings.setdefault(name, (flag, False))
    parameter = error.parameter
    # Every option of the command written as ``name=...`` (a message may name several: "pass
    # benchmark=NAME and/or metric=NAME"); only the error's own parameter as a bare first word.
    # Longer names first, so that ``out_dir=`` is never read as ``dir=``.
    for name in sorted(spellings, key=len, reverse=True):
        spelling, is_flag = spellings[name]
        message = _rewrite(message, name, spelling, is_flag, bare=name == parameter)
    return hint(error, message, store_url)
