"""``trialbook ui`` (the dashboard), ``trialbook tail`` (follow a run from a terminal) and the
redrawing behind ``trialbook ls --watch``.

The server is :func:`trialbook.dashboard.serve`; what a run wrote since the last look is
:func:`trialbook.tracking.follow_run`. Here options are parsed and lines printed.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

from trialbook.cli._options import RootOption, StoreOption, int64, open_store, workspace
from trialbook.cli._output import Output, fmt_number, fmt_time
from trialbook.reporting import printable

if TYPE_CHECKING:
    from typer._click import Context as ClickContext

    from trialbook.tracking import LogChunk, RunUpdate

__all__ = ["DEFAULT_WATCH", "WatchCommand", "WatchOption", "redraw", "tail", "ui"]

#: Seconds between redraws of ``ls --watch`` without a number.
DEFAULT_WATCH = 2.0


def _positive(value: float | None) -> float | None:
    if value is not None and not 0 < value <= 86400:
        raise typer.BadParameter(
            f"must be a number of seconds above 0 and at most 86400 (a day), not {value:g}"
        )
    return value


#: ``--watch [SECONDS]`` of a :class:`WatchCommand`.
WatchOption = Annotated[
    float | None,
    typer.Option(
        "--watch",
        metavar="[SECONDS]",
        help=f"Redraw the table in place every SECONDS (default {DEFAULT_WATCH:g}) until Ctrl-C.",
        show_default=False,
        callback=_positive,
    ),
]


def ui(
    ctx: typer.Context,
    port: Annotated[
        int,
        typer.Option(
            "--port",
            "-p",
            metavar="N",
            parser=int64(min=0, max=65535),
            help="Port to listen on (0 takes a free one).",
        ),
    ] = 8765,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            metavar="ADDR",
            help="Address to listen on. Anything but loopback (127.0.0.1, localhost, ::1) "
            "requires a token: --token, or one is generated and printed in the URL.",
        ),
    ] = "127.0.0.1",
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            metavar="SECRET",
            envvar="TRIALBOOK_UI_TOKEN",
            help="Require this token (?token= in the URL once, then a cookie; or an "
            "Authorization: Bearer header). The environment variable keeps it out of the "
            "process list.",
            show_default=False,
        ),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open", help="Open the dashboard in the default browser.")
    ] = False,
    writable: Annotated[
        bool,
        typer.Option(
            "--writable", help="Allow the writes the pages offer (tags, notes); read-only else."
        ),
    ] = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Serve the dashboard (runs, one run, compare, leaderboard; live) until Ctrl-C.

    It binds 127.0.0.1 unless --host says otherwise; reach it from another machine through
    SSH port forwarding (ssh -L 8765:127.0.0.1:8765 HOST) rather than opening it to the
    network. The JSON API's schema is at /api/openapi.json.
    """
    from trialbook.dashboard import serve

    ws = workspace(ctx, root, store)

    def ready(url: str) -> None:
        typer.echo(f"trialbook dashboard of {ws.root}", err=True)
        typer.echo(url)
        typer.echo("Ctrl-C stops it.", err=True)
        sys.stdout.flush()

    serve(
        workspace=ws,
        host=host,
        port=port,
        token=token,
        writable=writable,
        open_browser=open_browser,
        on_ready=ready,
    )


def tail(
    ctx: typer.Context,
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run id, prefix, short id or name.")],
    follow: Annotated[
        bool,
        typer.Option("--follow", "-f", help="Keep printing what the run writes until it ends."),
    ] = False,
    metrics: Annotated[
        bool, typer.Option("--metrics/--no-metrics", help="Print metric points.")
    ] = True,
    logs: Annotated[
        bool, typer.Option("--logs/--no-logs", help="Print stdout.log and stderr.log lines.")
    ] = True,
    system: Annotated[
        bool, typer.Option("--system", help="Include system/* metrics (CPU, memory).")
    ] = False,
    lines: Annotated[
        int,
        typer.Option(
            "--lines",
            "-n",
            metavar="N",
            parser=int64(min=0),
            help="Show the last N steps and log lines written so far (0: only what comes).",
        ),
    ] = 10,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Print a run's metric points (STEP: key=value ...) and log lines (stdout | ...,
    stderr | ...).

    With --follow it keeps printing as the run writes and ends when the run ends: exit 0 when
    it completed, 1 when it failed, crashed or was killed. Ctrl-C stops following (exit 0).
    """
    from trialbook.tracking import follow_run

    printer = _TailPrinter(system)
    with open_store(ctx, root, store) as db:
        record = db.get_run(run)
        updates = follow_run(db, record.id, metrics=metrics, logs=logs, follow=follow)
        status = record.status
        try:
            for i, update in enumerate(updates):
                printer.print(update, keep=lines if i == 0 else None)
                status = update.status
        except KeyboardInterrupt:
            return
        finally:
            printer.close()
    if follow:
        typer.echo(f"run {record.short_id} {status}", err=True)
        if status != "completed":
            raise typer.Exit(1)


class _TailPrinter:
    """Prints updates as lines; a log line is printed once it is complete (or at the end)."""

    def __init__(self, system: bool) -> None:
        self.system = system
        self.partial: dict[str, str] = {}

    def print(self, update: RunUpdate, keep: int | None) -> None:
        out: list[str] = []
        by_step: dict[int, list[str]] = {}
        for p in update.points:
            if self.system or not p.key.startswith("system/"):
                by_step.setdefault(p.step, []).append(f"{printable(p.key)}={fmt_number(p.value)}")
        steps = sorted(by_step)
        if keep is not None:
            steps = steps[-keep:] if keep else []
        out += [f"{step}: {' '.join(by_step[step])}" for step in steps]
        for stream in ("stdout", "stderr"):
            text = [c for c in update.logs if c.stream == stream]
            got = self._lines(stream, text, final=update.finished)
            if keep is not None:
                got = got[-keep:] if keep else []
            out += [f"{stream} | {line}" for line in got]
        if out:
            sys.stdout.write("\n".join(out) + "\n")
            sys.stdout.flush()

    def _lines(self, stream: str, chunks: list[LogChunk], final: bool) -> list[str]:
        text = self.partial.pop(stream, "") + "".join(c.text for c in chunks)
        parts = text.split("\n")
        rest = parts.pop()
        if rest and not final:
            self.partial[stream] = rest
        elif rest:
            parts.append(rest)
        return [printable(line.rstrip("\r")) for line in parts]

    def close(self) -> None:
        sys.stdout.flush()


class WatchCommand(TyperCommand):
    """A command whose ``--watch`` takes an optional number of seconds: ``--watch`` alone
    means :data:`DEFAULT_WATCH`."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        fixed: list[str] = []
        for i, arg in enumerate(args):
            fixed.append(arg)
            if arg == "--watch" and not _is_number(args[i + 1] if i + 1 < len(args) else ""):
                fixed.append(str(DEFAULT_WATCH))
        return super().parse_args(ctx, fixed)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def redraw(render: Callable[[Output], Any], seconds: float, title: str) -> None:
    """Call ``render`` every ``seconds`` and show what it prints in place of the previous
    drawing (a rich Live display on a terminal; one drawing after another otherwise) until
    Ctrl-C, or until the reader of a pipe goes away (``ls --watch | head``)."""
    try:
        if sys.stdout.isatty():
            _redraw_live(render, seconds, title)
        else:
            while True:
                out = Output(rich=False)
                out.line(f"{title}  {fmt_time(time.time(), seconds=True)}")
                render(out)
                out.line()
                sys.stdout.flush()
                time.sleep(seconds)
    except KeyboardInterrupt:
        return
    except BrokenPipeError:
        # Nobody reads any more: stop quietly, and keep the final flush from failing again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _redraw_live(render: Callable[[Output], Any], seconds: float, title: str) -> None:
    from rich.console import Console, Group
    from rich.live import Live
    from rich.text import Text

    screen = Console()
    with Live(console=screen, auto_refresh=False, redirect_stdout=False) as live:
        while True:
            out = Output(rich=True)
            # Drawn into a string with the terminal's colours and width, then shown by Live.
            out._console = Console(width=screen.width, force_terminal=True, highlight=False)
            with out.console.capture() as drawing:
                render(out)
            header = Text(f"{title}  {fmt_time(time.time(), seconds=True)}", style="dim")
            live.update(Group(header, Text.from_ansi(drawing.get())), refresh=True)
            time.sleep(seconds)
