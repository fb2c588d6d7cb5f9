"""The ``trialbook`` command: the Typer app, its global options, and the one place where an
error becomes ``error: <message>`` on stderr and exit status 2: a
:class:`~trialbook.errors.TrialbookError`, click's usage errors, and a failure to write (a full
disk, a file that cannot be written) that no command turned into its own sentence.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from trialbook.cli import (
    _analysis,
    _cancel,
    _db,
    _evaluate,
    _export,
    _report,
    _run,
    _runs,
    _stats,
    _ui,
)
from trialbook.cli._errors import CommandGroup, cli_message, invoked_command
from trialbook.cli._options import GlobalOptions, PartialWrite, RootOption, StoreOption
from trialbook.errors import StoreError, TrialbookError, error_chain, full_disk_cause
from trialbook.reporting import printable

__all__ = ["EXIT_USER_ERROR", "app", "main"]

#: Exit status for a user's mistake (bad option, unknown run, unusable workspace), as click uses.
EXIT_USER_ERROR = 2

#: Click's usage error (unknown option, bad value, missing argument). Found from the public
#: typer.BadParameter: recent Typer ships its own copy of click (typer._click), older Typer
#: uses click itself.
UsageError: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


#: A run of more characters than this without a space (a 10,000-character argument quoted in
#: a message) is shown as its start and end.
_LONGEST_WORD = 200


def _fail(message: str) -> NoReturn:
    from trialbook.store import hide_passwords

    # One line, and nothing from the user's input (a run name) drives the terminal; no
    # password of a URL a message quotes (a driver's words, an argument) reaches it.
    message = printable(" ".join(hide_passwords(message).split()))
    half = _LONGEST_WORD // 2
    message = re.sub(
        rf"\S{{{_LONGEST_WORD + 1},}}",
        lambda m: f"{m[0][:half]}\u2026{m[0][-half:]} ({len(m[0]):,} characters)",
        message,
    )
    label = typer.style("error:", fg="red", bold=True)
    typer.echo(f"{label} {message}", err=True)
    raise typer.Exit(EXIT_USER_ERROR)


def _usage_sentence(e: Any) -> str:
    """Click's usage error (an unknown option, a value of the wrong type, a missing argument)
    as one sentence pointing at the command's help, instead of click's four-line block."""
    where = e.ctx.command_path if e.ctx is not None else "trialbook"
    # A parser's ValueError (see _options.int64) reaches click through Pydantic's wording.
    message = e.format_message().replace("Value error, ", "").rstrip(".")
    refused = _refused_input(e)
    if refused and repr(refused) not in message:
        message = f"{message} (got {refused!r})"
    if message.endswith("?"):  # "No such command 'lss'. Did you mean 'ls'?"
        return f"{message} See '{where} --help'."
    return f"{message}; see '{where} --help'."


def _refused_input(e: Any) -> str | None:
    """The text an option refused when Typer checked it with Pydantic (``int`` options), whose
    message ("Input should be a valid integer") leaves the value out."""
    errors = getattr(e.__cause__, "errors", None)
    if not callable(errors):
        return None
    try:
        details = errors()
    except Exception:  # not Pydantic's ValidationError after all
        return None
    for detail in details if isinstance(details, list) else ():
        value = detail.get("input") if isinstance(detail, dict) else None
        if isinstance(value, str):
            return value
    return None


# -- a failure to write ----------------------------------------------------------------------------

_SQLITE_IOERR = 10  # the primary result code (the low byte of an extended one)
#: A SQLite I/O error counts as a full disk when less than this is left on the database's disk.
_NEARLY_FULL = 1 << 20
# atomic_open's temporary file: ".<name>.<random>.tmp" beside <name>.
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[^.]+\.tmp$")


def _available(path: Path) -> int | None:
    """Bytes an unprivileged user could still write on ``path``'s disk; None if unknown."""
    for folder in (path, *path.parents):
        try:
            st = os.statvfs(folder)
        except OSError:
            continue
        return st.f_bavail * st.f_frsize
    return None


def _full_disk(e: BaseException, workspace: Any) -> tuple[str | None, str | None]:
    """What ran out behind ``e`` ("no space is left on its disk", "your disk quota there is
    used up"; None when nothing did) and the file it names, if any."""
    disk = "no space is left on its disk"
    io_error = False
    cause = full_disk_cause(e)
    if isinstance(cause, OSError):
        what = "your disk quota there is used up" if cause.errno == errno.EDQUOT else disk
        return what, None if cause.filename is None else os.fsdecode(cause.filename)
    if cause is not None:
        return disk, None
    for x in error_chain(e):
        code = getattr(x, "sqlite_errorcode", None)
        io_error = io_error or (isinstance(code, int) and code & 0xFF == _SQLITE_IOERR)
    if io_error and workspace is not None:
        from trialbook.store import sqlite_path

        # SQLite reports a WAL index it cannot grow as an I/O error, not as SQLITE_FULL.
        db = sqlite_path(workspace.store_url)
        left = _available(db.parent) if db is not None else None
        return (disk if left is not None and left < _NEARLY_FULL else None), None
    return None, None


def _target(filename: str) -> str:
    """The file a write was for: atomic_open's temporary name is shown as its target's."""
    path = Path(filename)
    match = _TEMP_NAME.match(path.name)
    return str(path.with_name(match["name"])) if match else str(path)


def _write_failure(e: BaseException, ctx: Any, kept: str = "") -> str | None:
    """The sentence for a failure to write that no command explained (``kept``: what the
    command kept of its work), else None."""
    glob = ctx.find_object(GlobalOptions) if ctx is not None else None
    ws = glob.resolved if glob is not None else None
    full, filename = _full_disk(e, ws)
    if full is not None:
        if filename is not None:
            what = _target(filename)
        elif isinstance(e, TrialbookError) and ws is not None:
            from trialbook.store import safe_url, sqlite_path

            what = f"the database {sqlite_path(ws.store_url) or safe_url(ws.store_url)}"
        elif ws is not None:
            what = f"a file in {ws.root}"
        else:
            what = "a file"
        return (
            f"Cannot write {what}: {full}. {kept} Free some space there (or use a workspace or "
            "output path on another disk) and run the command again."
        )
    if isinstance(e, OSError) and not isinstance(e, TrialbookError) and e.errno is not None:
        what = _target(os.fsdecode(e.filename)) if e.filename is not None else "a file"
        return (
            f"Cannot use {what}: {e.strerror or e}. {kept} Check the path and its permissions, "
            "or choose another."
        )
    return None


def _sentence(e: TrialbookError, ctx: Any) -> str:
    """``e`` in the words of the command that was running (see :mod:`trialbook.cli._errors`)."""
    glob = ctx.find_object(GlobalOptions) if ctx is not None else None
    ws = glob.resolved if glob is not None else None
    return cli_message(e, invoked_command(ctx), None if ws is None else ws.store_url)


class _TrialbookGroup(CommandGroup):
    """The root command group; turns trialbook's own errors and click's usage errors into one
    ``error:`` line and exit 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        # The group's own options (trialbook --root X --bad ls) are parsed here.
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as e:
            if _is_help(e):
                raise
            _fail(_usage_sentence(e))

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PartialWrite as e:
            cause = e.__cause__ if e.__cause__ is not None else e
            _fail(_write_failure(cause, ctx, e.kept) or f"{cause} {e.kept}")
        except StoreError as e:
            # The Store's own sentence for a full disk ("database or disk is full") says
            # nothing of what to do.
            _fail(_write_failure(e, ctx) or _sentence(e, ctx))
        except TrialbookError as e:
            _fail(_sentence(e, ctx))
        except OSError as e:
            sentence = _write_failure(e, ctx)
            if sentence is None:
                raise
            _fail(sentence)
        except UnicodeEncodeError as e:
            # Python keeps the bytes of a non-UTF-8 argument as lone surrogates, which
            # neither SQLite nor a UTF-8 file can hold.
            if "surrogates" not in str(e.reason):
                raise
            bad = printable(e.object[max(e.start - 20, 0) : e.end + 20])
            _fail(
                f"An argument holds bytes that are not UTF-8 text ('{bad}'); pass names and "
                "values in UTF-8 (check the terminal's or the script's encoding)."
            )
        except UsageError as e:
            if _is_help(e):
                raise
            _fail(_usage_sentence(e))


def _is_help(e: Any) -> bool:
    # `trialbook` or a group without a command prints its help (click >= 8.2 raises it as a
    # usage error, NoArgsIsHelpError).
    return type(e).__name__ == "NoArgsIsHelpError"


app = typer.Typer(
    name="trialbook",
    cls=_TrialbookGroup,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        import trialbook

        typer.echo(f"trialbook {trialbook.__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ctx: typer.Context,
    root: RootOption = None,
    store: StoreOption = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """trialbook: a lab notebook for machine-learning experiments.

    Every run is tracked (step metrics, params, checkpoints, evaluations with per-sample
    results, git and environment), kept in a run folder you can read and reproduce from, and
    indexed in a database for queries, seed-group statistics, significance tests and reports.

    \b
    Commands, by what they are for:
      run experiments   run, reproduce
      look at runs      ls, show, stats, export
      evaluate models   benchmarks, evaluate
      is B better?      leaderboard, compare, significance
      write reports     report, analyze
      watch runs        ui (the dashboard), tail, ls --watch
      the workspace     db (status, upgrade, check, recover, copy)

    \b
    A first session (the README's):
      trialbook run examples/configs/suite.yaml --suite minimal --seeds 42 43 44
      trialbook ls --by group
      trialbook significance baseline label_smoothing

    The workspace is ./experiments unless --root (or TRIALBOOK_ROOT) says otherwise; every
    command also accepts --root and --store after its name. Reports and analyze files go under
    the workspace unless you say where. `trialbook COMMAND --help` explains a command;
    README.md and docs/ explain the rest.
    """
    ctx.obj = GlobalOptions(root, store)


app.command(
    "run",
    cls=_run.RunCommand,
    # Suites declare options of their own (--max-train-samples): _run sorts them out.
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(_run.run)
app.command("reproduce")(_run.reproduce)
app.command("cancel")(_cancel.cancel)
app.command("ls", cls=_ui.WatchCommand)(_runs.ls)
# The name other trackers' users type first.
app.command("list", hidden=True, cls=_ui.WatchCommand)(_runs.ls)
app.command("show")(_runs.show)
app.command("stats")(_stats.stats)
app.command("export")(_export.export)
app.command("evaluate")(_evaluate.evaluate)
app.command("benchmarks")(_evaluate.benchmarks)
app.command("leaderboard")(_analysis.leaderboard)
app.command("compare")(_analysis.compare)
app.command("significance")(_analysis.significance)
app.command("report")(_report.report)
app.command("analyze")(_report.analyze)
app.command("ui")(_ui.ui)
app.command("tail")(_ui.tail)
app.add_typer(_db.app, name="db")


def main() -> None:
    """Console-script entry point: ``trialbook ...``."""
    app(prog_name="trialbook")
