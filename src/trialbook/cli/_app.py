"""The ``trialbook`` command: the Typer app, its global options, and the one place where a
:class:`~trialbook.errors.TrialbookError` becomes ``error: <message>`` on stderr and exit status 2.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from trialbook._format import printable
from trialbook.cli import _analysis, _db, _evaluate, _export, _report, _run, _runs, _stats
from trialbook.cli._options import GlobalOptions, RootOption, StoreOption
from trialbook.errors import TrialbookError

__all__ = ["EXIT_USER_ERROR", "app", "main"]

#: Exit status for a user's mistake (bad option, unknown run, unusable workspace), as click uses.
EXIT_USER_ERROR = 2


class _TrialbookGroup(TyperGroup):
    """The root command group; turns trialbook's own errors into a message and exit 2."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except TrialbookError as e:
            # One line, and nothing from the user's input (a run name) drives the terminal.
            message = printable(" ".join(str(e).split())) or type(e).__name__
            label = typer.style("error:", fg="red", bold=True)
            typer.echo(f"{label} {message}", err=True)
            raise typer.Exit(EXIT_USER_ERROR) from None


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
