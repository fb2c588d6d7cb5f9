"""The ``trialbook`` command: the Typer app, its global options, and the one place where a
:class:`~trialbook.errors.TrialbookError` becomes ``error: <message>`` on stderr and exit status 2.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import typer
from typer._click import Context as ClickContext  # Typer ships its own copy of click
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from trialbook._format import printable
from trialbook.cli import _analysis, _db, _evaluate, _export, _report, _run, _runs, _stats
from trialbook.cli._options import GlobalOptions, RootOption, StoreOption
from trialbook.errors import TrialbookError

__all__ = ["EXIT_USER_ERROR", "app", "main"]

#: Exit status for a user's mistake (bad option, unknown run, unusable workspace), as click uses.
EXIT_USER_ERROR = 2


def _fail(message: str) -> NoReturn:
    # One line, and nothing from the user's input (a run name) drives the terminal.
    message = printable(" ".join(message.split()))
    label = typer.style("error:", fg="red", bold=True)
    typer.echo(f"{label} {message}", err=True)
    raise typer.Exit(EXIT_USER_ERROR)


def _usage_sentence(e: UsageError) -> str:
    """Click's usage error (an unknown option, a value of the wrong type, a missing argument)
    as one sentence pointing at the command's help, instead of click's four-line block."""
    where = e.ctx.command_path if e.ctx is not None else "trialbook"
    # A parser's ValueError (see _options.int64) reaches click through Pydantic's wording.
    message = e.format_message().replace("Value error, ", "").rstrip(".")
    return f"{message}; see '{where} --help'."


class _TrialbookGroup(TyperGroup):
    """The root command group; turns trialbook's own errors and click's usage errors into one
    ``error:`` line and exit 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> ClickContext:
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
        except TrialbookError as e:
            _fail(str(e) or type(e).__name__)
        except UsageError as e:
            if _is_help(e):
                raise
            _fail(_usage_sentence(e))


def _is_help(e: UsageError) -> bool:
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
        from trialbook import __version__

        typer.echo(f"trialbook {__version__}")
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
    """A lab notebook for machine-learning experiments: list, inspect and export runs.

    The workspace is ./experiments unless --root (or TRIALBOOK_ROOT) says otherwise; every
    command also accepts --root and --store after its name.
    """
    ctx.obj = GlobalOptions(root, store)


app.command(
    "run",
    cls=_run.RunCommand,
    # Suites declare options of their own (--max-train-samples): _run sorts them out.
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(_run.run)
app.command("reproduce")(_run.reproduce)
app.command("ls")(_runs.ls)
app.command("list", hidden=True)(_runs.ls)  # the name other trackers' users type first
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
app.add_typer(_db.app, name="db")


def main() -> None:
    """Console-script entry point: ``trialbook ...``."""
    app(prog_name="trialbook")
