"""``trialbook cancel RUN...``: cancel the Slurm jobs of runs and mark the runs killed."""

from __future__ import annotations

from typing import Annotated

import typer

from trialbook.cli._options import RootOption, StoreOption, workspace

__all__ = ["cancel"]


def cancel(
    ctx: typer.Context,
    runs: Annotated[
        list[str],
        typer.Argument(
            metavar="RUN",
            help="Run ids, unique id prefixes or names, as ls shows them.",
            show_default=False,
        ),
    ],
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Cancel runs submitted with --executor slurm (scancel) and mark them killed. A run
    that already ended is left as it is. Exit status 2 for an unknown run, or an unfinished
    run without a Slurm job (stop those with Ctrl-C where they run)."""
    from trialbook.execution import cancel_runs
    from trialbook.store import short_run_id

    for outcome in cancel_runs(workspace(ctx, root, store), runs):
        short = short_run_id(outcome.run_id)
        if outcome.action == "cancelled":
            typer.echo(f"{short}: cancelled Slurm job {outcome.job_id}; the run is killed.")
        else:
            typer.echo(f"{short}: already {outcome.status}; nothing to cancel.")
