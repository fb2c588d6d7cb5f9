"""The options every command shares (``--root``, ``--store``), what they open, and the type
of every integer option (:func:`int64`).

Both options are accepted before the command (``trialbook --root runs ls``) and after it
(``trialbook ls --root runs``); the later one wins. Environment variables and pyproject.toml
defaults are applied by :meth:`trialbook.Workspace.resolve`, after both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trialbook.reporting import clip

if TYPE_CHECKING:
    from trialbook.analysis import Entry
    from trialbook.store import Store, Workspace

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "GlobalOptions",
    "JsonOption",
    "PartialWrite",
    "RootOption",
    "StoreOption",
    "SuiteOption",
    "WhereOption",
    "int64",
    "open_store",
    "paste_command",
    "resolve_names",
    "workspace",
]

_PANEL = "Workspace"

#: The integers SQLite (and PostgreSQL's BIGINT, and numpy's seeds) can hold.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def int64(min: int | None = None, max: int | None = None) -> Callable[[Any], int]:
    """The parser of every integer option and argument: a whole number that fits in 64 bits
    (so that ``--limit 99999999999999999999`` is refused before it reaches SQLite) and lies
    within ``min``..``max``. Use it as ``typer.Option(..., parser=int64(min=1))``.

    A refusal is a usage error naming the option, which the app prints as one ``error:``
    line with exit status 2.
    """
    low = INT64_MIN if min is None else min
    high = INT64_MAX if max is None else max

    def parse(value: Any) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value  # a default
        else:
            text = str(value).strip()
            try:
                number = int(text, 10)
            except ValueError:
                raise ValueError(f"{clip(text, 40)!r} is not a whole number") from None
        if not INT64_MIN <= number <= INT64_MAX:
            bound = INT64_MAX if number > 0 else INT64_MIN
            raise ValueError(
                f"{clip(str(number), 40)} is beyond what a 64-bit integer holds ({bound:,})"
            )
        if number < low:
            raise ValueError(f"must be at least {low:,}, not {number:,}")
        if number > high:
            raise ValueError(f"must be at most {high:,}, not {number:,}")
        return number

    return parse


RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root",
        metavar="PATH",
        help="Workspace folder (default ./experiments; env TRIALBOOK_ROOT).",
        show_default=False,
        rich_help_panel=_PANEL,
    ),
]
StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        metavar="URL",
        help="Store URL, e.g. sqlite:///runs.db or postgresql://... "
        "(default <root>/trialbook.db; env TRIALBOOK_STORE).",
        show_default=False,
        rich_help_panel=_PANEL,
    ),
]
SuiteOption = Annotated[
    str | None,
    typer.Option(
        "--suite",
        metavar="NAME",
        help="Only runs planned from this suite file (its suite: name, e.g. demo; "
        "`trialbook show RUN` lists a run's suite:<name> tag).",
        show_default=False,
    ),
]
WhereOption = Annotated[
    list[str] | None,
    typer.Option(
        "--where",
        "-w",
        metavar="COND",
        help="Only runs where COND holds (repeatable; all must hold). COND is KEY OP VALUE: "
        "params.lr=0.001, params.optimizer=adam, loss<0.5 (a bare key is a metric's last "
        "value), metrics.loss<0.5, min(loss)<0.5, max(metrics.acc)>=0.9. OP is one of "
        "== != < <= > >=. VALUE is a number, true/false/null, or text. Quote the whole "
        "COND in the shell. A key no run has is an error with a did-you-mean.",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print machine-readable JSON only."),
]


class PartialWrite(Exception):
    """A command's write failed part-way (raised ``from`` the failure); ``kept`` says what was
    kept and where, and the app's error handler adds it to its sentence for the failure."""

    def __init__(self, kept: str) -> None:
        super().__init__(kept)
        self.kept = kept


@dataclass
class GlobalOptions:
    """``--root`` / ``--store`` given before the command name; kept on the click context."""

    root: Path | None = None
    store: str | None = None
    #: The workspace the command resolved (the error handler names it when a write fails).
    resolved: Workspace | None = None


def workspace(ctx: typer.Context, root: Path | None, store: str | None) -> Workspace:
    """The workspace named by the command's options, else the global ones, else the defaults."""
    from trialbook import Workspace

    glob = ctx.find_object(GlobalOptions) or GlobalOptions()
    glob.resolved = Workspace.resolve(root or glob.root, store or glob.store)
    return glob.resolved


@contextmanager
def open_store(ctx: typer.Context, root: Path | None, store: str | None) -> Iterator[Store]:
    """Open the existing Store of the workspace; never creates a folder or a database.

    Raises WorkspaceError (no database there), NotATrialbookDatabase (a corrupt or foreign
    file) or SchemaVersionError (needs ``trialbook db upgrade``).
    """
    db: Store = workspace(ctx, root, store).open_store(create=False)
    try:
        yield db
    finally:
        db.close()


def paste_command(ctx: typer.Context, swap: tuple[str, str] | None = None) -> str:
    """The command being run, as a line to paste, with the argument ``swap[0]`` replaced by
    ``swap[1]`` (how an ambiguous name's error shows the command that names one group)."""
    import shlex

    def text(value: Any) -> str:
        return str(value.value if hasattr(value, "value") else value)

    words = ["trialbook", ctx.info_name or ""]
    options: list[str] = []
    glob = ctx.find_object(GlobalOptions) or GlobalOptions()
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        # Duck-typed: typer may carry its own copy of click's classes.
        kind = getattr(param, "param_type_name", "")
        if kind == "argument":
            values = value if isinstance(value, list | tuple) else [value]
            for v in values:
                if v is not None:
                    v = text(v)
                    words.append(swap[1] if swap is not None and v == swap[0] else v)
            continue
        if kind != "option" or value is None or value == param.default or value == ():
            continue
        opts: Any = param
        if opts.is_flag:
            if value:
                options.append(opts.opts[0])
            elif opts.secondary_opts:
                options.append(opts.secondary_opts[0])
            continue
        for v in value if opts.multiple else [value]:
            options += [opts.opts[0], text(v)]
    for name, value in (("--root", glob.root), ("--store", glob.store)):
        if value is not None and name not in options:
            options += [name, str(value)]
    return shlex.join([*words, *options])


def resolve_names(
    ctx: typer.Context,
    db: Store,
    refs: list[str],
    *,
    suite: str | None,
    where: list[str] | None,
    benchmark: str | None = None,
    metric: str | None = None,
) -> list[Entry]:
    """The entries ``refs`` name (see :func:`trialbook.analysis.resolve_refs`), with each
    entry's notes (which of several groups a name stands for, runs left out) on stderr. A
    name no rule can resolve is an error that ends with the command to paste."""
    from trialbook.analysis import Scope, resolve_refs
    from trialbook.errors import AmbiguousNameError

    try:
        entries = resolve_refs(
            refs, db, scope=Scope.of(suite, where), benchmark=benchmark, metric=metric
        )
    except AmbiguousNameError as e:
        line = paste_command(ctx, (e.name, e.choices[0]))
        raise AmbiguousNameError(
            f"{str(e).rstrip('.')}, as in `{line}`.", name=e.name, choices=e.choices
        ) from None
    for entry in entries:
        for note in entry.notes:
            typer.echo(f"note: {note}", err=True)
    return entries
