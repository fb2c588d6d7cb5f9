"""``trialbook run`` (plan, dry-run, execute a suite) and ``trialbook reproduce`` (run a run again).

``run`` takes config and suite files mixed with overrides (``training.lr=1e-4``, ``+new=1``,
``~key``) and the options that suites declare as shortcuts (``--max-train-samples 5000``);
Typer's options are static, so the command accepts unknown options and sorts them out here,
against ``suite_shortcuts(files)``, with a did-you-mean for anything unknown.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperCommand

from trialbook.cli._options import RootOption, StoreOption, workspace
from trialbook.cli._output import Column, Output, Styled, fmt_number
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    # Typer ships its own copy of click; its types are the ones TyperCommand uses.
    from typer._click import Context as ClickContext
    from typer._click import HelpFormatter

    from trialbook.config import Plan
    from trialbook.execution import PlanDecision, ReproduceResult

__all__ = ["RunCommand", "reproduce", "run", "split_run_arguments"]

_INT = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-(\d|\.\d)")
_PANEL = "Suite options"


def _is_override(token: str) -> bool:
    """``a.b=1``, ``+a.b=1``, ``++a.b=1`` or ``~a.b`` (a path that exists is a path)."""
    if Path(token).exists():
        return False
    return token.startswith(("~", "+")) or ("=" in token and not token.startswith("-"))


def _expand_seeds(args: list[str]) -> list[str]:
    """``--seeds 42 43 44`` and ``--seeds 42,43`` -> ``--seeds 42 --seeds 43 ...``."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        if token == "--":
            out.extend(args[i:])
            break
        name, eq, inline = token.partition("=")
        if name == "--seeds":
            values = inline.split(",") if eq else []
            i += 1
            if not eq:
                while i < len(args) and all(_INT.match(v) for v in args[i].split(",") if v):
                    values.extend(v for v in args[i].split(",") if v)
                    i += 1
            if not values and i < len(args) and not args[i].startswith("-"):
                values = [args[i]]  # not a seed ('--seeds abc'): the option reports it
                i += 1
            if not values:
                values = [""]  # let the option itself report the missing value
            for value in values:
                out.extend(["--seeds", value])
            continue
        out.append(token)
        i += 1
    return out


class RunCommand(TyperCommand):
    """``trialbook run``: variadic ``--seeds`` and the suite's shortcuts in ``--help``."""

    def parse_args(self, ctx: ClickContext, args: list[str]) -> list[str]:
        ctx.meta["trialbook.raw_args"] = list(args)
        return super().parse_args(ctx, _expand_seeds(args))

    def format_help(self, ctx: ClickContext, formatter: HelpFormatter) -> None:
        super().format_help(ctx, formatter)
        raw = ctx.meta.get("trialbook.raw_args", [])
        files = [a for a in raw if not a.startswith("-") and Path(a).is_file()]
        suite = None
        if "--suite" in raw and raw.index("--suite") + 1 < len(raw):
            suite = raw[raw.index("--suite") + 1]
        if not files and suite is None:
            return
        from trialbook.config import suite_shortcuts

        try:
            shortcuts = suite_shortcuts(files, suite)
        except ConfigError:
            return
        if shortcuts:
            with formatter.section(_PANEL):
                formatter.write_dl(
                    [(f"--{opt} VALUE", f"Sets {key}.") for opt, key in sorted(shortcuts.items())]
                )


def split_run_arguments(
    tokens: Sequence[str], known_options: Sequence[str], shortcuts: dict[str, str] | None
) -> tuple[list[str], list[str], dict[str, str]]:
    """Sort ``trialbook run``'s free arguments into ``(paths, overrides, shortcut values)``.

    ``shortcuts`` is None while the files are not known yet (only paths are collected).

    Raises:
        ConfigError: an option that is neither trialbook's nor a shortcut of the suites, or a
            shortcut without a value.
    """
    paths: list[str] = []
    overrides: list[str] = []
    values: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.startswith("-") and token != "-" and not _INT.match(token):
            name, eq, value = token.partition("=")
            option = name.lstrip("-")
            if shortcuts is None:
                if not eq and i < len(tokens) and _value_like(tokens[i]):
                    i += 1  # its value (a negative number too: the schema judges it)
                continue
            if option not in shortcuts:
                from trialbook.config._suggest import closest

                candidates = [*known_options, *(f"--{s}" for s in shortcuts)]
                match = closest(name, candidates)
                fix = (
                    f"; did you mean '{match}'?"
                    if match
                    else (
                        "; see `trialbook run FILE --help` for the options (a suite's shortcuts "
                        "are listed when its file is given)."
                    )
                )
                raise ConfigError(f"Unknown option '{name}'{fix}")
            if not eq:
                if i >= len(tokens) or tokens[i].startswith("--"):
                    raise ConfigError(
                        f"Option '{name}' needs a value, e.g. {name} 5000 (it sets "
                        f"{shortcuts[option]})."
                    )
                value = tokens[i]
                i += 1
            values[option] = value
        elif _is_override(token):
            overrides.append(token)
        else:
            paths.append(token)
    return paths, overrides, values


def _value_like(token: str) -> bool:
    """Whether ``token`` after an option is its value rather than the next option."""
    return not token.startswith("-") or _NUMBER.match(token) is not None


def _known_options(ctx: ClickContext) -> list[str]:
    names: list[str] = []
    for param in ctx.command.get_params(ctx):
        names.extend(o for o in getattr(param, "opts", []) if o.startswith("--"))
    return names


def _action(decision: PlanDecision) -> Styled:
    short = (decision.run_id or "").rsplit("_", 1)[-1]
    return {
        "run": Styled("run", "cyan"),
        "resume": Styled(f"run (queued {short})", "cyan"),
        "skip": Styled(f"skip: completed {short}", "dim"),
        "busy": Styled(f"wait: running {short} (another runner)", "yellow"),
        "duplicate": Styled("skip: duplicate", "dim"),
    }[decision.action]


def _print_plan(out: Output, plan: Plan, decisions: Sequence[PlanDecision]) -> None:
    from trialbook.config import format_changes

    rows: list[list[str | Styled]] = [
        [
            str(i),
            d.planned.name,
            "-" if d.planned.seed is None else str(d.planned.seed),
            _action(d),
            format_changes(d.planned) or "-",
        ]
        for i, d in enumerate(decisions, 1)
    ]
    out.table(
        [
            Column("#", "right"),
            Column("name"),
            Column("seed", "right"),
            Column("action"),
            Column("changes from base", overflow="fold", min_width=20),
        ],
        rows,
    )
    to_run = sum(d.will_run for d in decisions)
    waiting = sum(d.action == "busy" for d in decisions)
    skipped = len(decisions) - to_run - waiting
    out.line()
    for note in plan.notes:
        out.line(f"note: {note}")
    suffix = f", {skipped} skipped" if skipped else ""
    if waiting:
        suffix += f", {waiting} running in another runner (waited for)"
    out.line(f"{to_run} run(s) would run{suffix}. Nothing was started (--dry-run).")


def run(
    ctx: typer.Context,
    arguments: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="FILE... [KEY=VALUE | +KEY=VALUE | ~KEY]...",
            help="Config files, suite files or folders of them, and overrides applied to every "
            "run (training.learning_rate=1e-4 sets, +new.key=1 adds, ~key removes).",
            show_default=False,
        ),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option("--suite", metavar="NAME", help="Run this named suite of the suite file."),
    ] = None,
    seeds: Annotated[
        list[int] | None,
        typer.Option(
            "--seeds",
            metavar="SEED...",
            help="Run every config once per seed: --seeds 42 43 44 (replaces the files' seeds).",
            show_default=False,
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="An override, as a bare KEY=VALUE argument would be (repeatable).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the plan (what runs, what is skipped as completed, each run's changes "
            "from its base) and exit without running or writing anything.",
        ),
    ] = False,
    rerun: Annotated[
        bool,
        typer.Option("--rerun", help="Run again what already completed with the same config."),
    ] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", metavar="N", help="Runs at the same time.")
    ] = 1,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Stop a run after this long and mark it killed.",
            show_default=False,
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            metavar="N",
            help="Try a failed, crashed or timed-out run up to N more times (each attempt is "
            "a run of its own).",
        ),
    ] = 0,
    stop_on_error: Annotated[
        bool,
        typer.Option(
            "--stop-on-error",
            help="After the first failed run, start nothing more (the rest stay queued).",
        ),
    ] = False,
    executor: Annotated[
        str,
        typer.Option("--executor", metavar="NAME", help="Where runs execute: local."),
    ] = "local",
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Run experiments: plan the runs of config and suite files, skip what already completed,
    run the rest (each in its own process), and report. Exit status: 0 when every run
    completed, 1 when one failed, 2 for a mistake in the command or configs, 130 after Ctrl-C,
    143 after SIGTERM.
    """
    from trialbook.config import plan_runs, suite_shortcuts
    from trialbook.execution import Runner

    tokens = list(arguments or [])
    paths, _, _ = split_run_arguments(tokens, [], None)
    own = [o.removeprefix("--") for o in _known_options(ctx)]
    shortcuts = suite_shortcuts(paths, suite, reserved=own) if paths or suite else {}
    paths, overrides, values = split_run_arguments(tokens, _known_options(ctx), shortcuts)
    if not paths and suite is None:
        raise ConfigError(
            "Give the config or suite files to run, e.g. trialbook run configs/exp.yaml, or "
            "--suite NAME for suites/NAME.yaml."
        )
    if executor != "local":
        raise ConfigError(
            f"Executor {executor!r} is not available in this version; use --executor local."
        )
    plan = plan_runs(
        paths,
        suite=suite,
        seeds=seeds or None,
        overrides=[*overrides, *(set_ or [])],
        shortcut_values=values,
    )
    ws = workspace(ctx, root, store)
    runner = Runner(
        root=ws.root,
        store_url=ws.store_url,
        jobs=jobs,
        timeout=timeout,
        retries=retries,
        stop_on_error=stop_on_error,
        rerun=rerun,
    )
    if dry_run:
        decisions = runner.preview(plan)
        _print_plan(Output(), plan, decisions)
        return
    runner.check(plan)  # bad code is reported before the notes are printed
    for note in plan.notes:
        typer.echo(f"note: {note}")
    result = runner.run(plan)
    raise typer.Exit(result.exit_code)


def _print_checks(out: Output, result: ReproduceResult, tolerance: float) -> None:
    rows: list[list[str | Styled]] = []
    for c in result.checks:
        diff = c.relative_difference
        rows.append(
            [
                c.key,
                fmt_number(c.original),
                "missing" if c.reproduced is None else fmt_number(c.reproduced),
                "-" if diff is None else f"{diff:.2g}",
                Styled("match", "green") if c.match else Styled("MISMATCH", "bold red"),
            ]
        )
    out.line(Styled(f"Final metrics (relative tolerance {tolerance:g})", "bold"))
    if not rows:
        out.line("The original run recorded no final metrics to compare.")
        return
    out.table(
        [
            Column("metric"),
            Column("original", "right"),
            Column("reproduced", "right"),
            Column("rel. diff", "right"),
            Column("result"),
        ],
        rows,
    )
    mismatches = result.mismatches
    if not mismatches:
        out.line()
        out.line(f"All {len(rows)} metric(s) match.")
        return
    out.heading("Differences that may explain the mismatches")
    if result.differences:
        for line in result.differences:
            out.line(f"  {line}")
    else:
        out.line("  None recorded: same commit, clean work tree, same Python and packages.")
        out.line("  Nondeterminism in the code (unseeded generators, GPU kernels) is likely.")


def reproduce(
    ctx: typer.Context,
    run_ref: Annotated[
        str, typer.Argument(metavar="RUN", help="Run id, id prefix, short id or name.")
    ],
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Compare the final metrics with the original's and list the mismatches, with "
            "the git and package differences that may explain them.",
        ),
    ] = False,
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", metavar="REL", help="Relative tolerance for --check."),
    ] = 1e-6,
    ignore: Annotated[
        list[str] | None,
        typer.Option(
            "--ignore",
            metavar="PATTERN",
            help="Metrics not to compare, as glob patterns (repeatable; system/* always).",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", metavar="SECONDS", help="Stop the run after this long."),
    ] = None,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Run a run again from its folder's config.yaml with the same seed (a new run tagged
    reproduces:<id>). Exit status 1 when it fails or, with --check, a metric differs.
    """
    from trialbook.execution import reproduce as reproduce_run

    ws = workspace(ctx, root, store)
    result = reproduce_run(
        run_ref,
        root=ws.root,
        store_url=ws.store_url,
        check=check,
        tolerance=tolerance,
        ignore=ignore or (),
        timeout=timeout,
    )
    out = Output()
    new_id = result.outcome.run_id or "-"
    out.line(
        f"Reproduced {result.original.id} as {new_id}: {result.outcome.status}."
        if result.outcome.status == "completed"
        else f"The reproduction of {result.original.id} ({new_id}) ended {result.outcome.status}."
    )
    if check and result.outcome.status == "completed":
        out.line()
        _print_checks(out, result, tolerance)
    raise typer.Exit(result.exit_code)
