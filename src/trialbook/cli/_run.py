"""``trialbook run`` (plan, dry-run, execute a suite) and ``trialbook reproduce`` (run a run again).

``run`` takes config and suite files mixed with overrides (``training.lr=1e-4``, ``+new=1``,
``~key``) and the options that suites declare as shortcuts (``--max-train-samples 5000``);
``cli/_run_args.py`` reads that command line into a plan.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trialbook.cli._options import RootOption, StoreOption, workspace
from trialbook.cli._output import Column, Output, Styled, fmt_number
from trialbook.cli._run_args import RunCommand, plan_from_arguments, split_run_arguments
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.config import Plan
    from trialbook.execution import PlanDecision, ReproduceResult

__all__ = ["RunCommand", "reproduce", "run", "split_run_arguments"]


def _action(decision: PlanDecision) -> Styled:
    from trialbook.store import short_run_id

    short = short_run_id(decision.run_id or "")
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


# `trialbook run`'s own options, declared once here to keep its signature short.
_Arguments = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="FILE... [KEY=VALUE | +KEY=VALUE | ~KEY]...",
        help="Config files, suite files or folders of them, and overrides applied to every "
        "run (training.learning_rate=1e-4 sets, +new.key=1 adds, ~key removes).",
        show_default=False,
    ),
]
_Suite = Annotated[
    str | None,
    typer.Option("--suite", metavar="NAME", help="Run this named suite of the suite file."),
]
_Seeds = Annotated[
    list[int] | None,
    typer.Option(
        "--seeds",
        metavar="SEED...",
        help="Run every config once per seed: --seeds 42 43 44 (replaces the files' seeds).",
        show_default=False,
    ),
]
_Set = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY=VALUE",
        help="An override, as a bare KEY=VALUE argument would be (repeatable).",
        show_default=False,
    ),
]
_DryRun = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Print the plan (what runs, what is skipped as completed, each run's changes "
        "from its base) and exit without running or writing anything.",
    ),
]
_Rerun = Annotated[
    bool, typer.Option("--rerun", help="Run again what already completed with the same config.")
]
_Jobs = Annotated[int, typer.Option("--jobs", "-j", metavar="N", help="Runs at the same time.")]
_Timeout = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        metavar="SECONDS",
        help="Stop a run after this long and mark it killed.",
        show_default=False,
    ),
]
_Retries = Annotated[
    int,
    typer.Option(
        "--retries",
        metavar="N",
        help="Try a failed, crashed or timed-out run up to N more times (each attempt is "
        "a run of its own).",
    ),
]
_StopOnError = Annotated[
    bool,
    typer.Option(
        "--stop-on-error",
        help="After the first failed run, start nothing more (the rest stay queued).",
    ),
]
_Executor = Annotated[
    str,
    typer.Option(
        "--executor",
        metavar="NAME",
        help="Where runs execute: local (processes on this machine, --jobs at once), ray "
        "(Ray tasks; --address) or slurm (Slurm jobs through submitit).",
    ),
]
_Address = Annotated[
    str | None,
    typer.Option(
        "--address",
        metavar="ADDRESS",
        help="--executor ray: the cluster to join (auto, HOST:PORT of its head, or "
        "ray://HOST:PORT of its Ray Client server); without it a local Ray starts with this "
        "machine's CPUs.",
        show_default=False,
    ),
]


_Detach = Annotated[
    bool,
    typer.Option(
        "--detach",
        help="--executor slurm: submit every run as a Slurm job and return at once; the runs "
        "stay queued until the same command again (or trialbook ls) picks up how they ended.",
    ),
]


def _slurm_option(name: str, metavar: str, text: str) -> Any:
    return typer.Option(
        f"--slurm-{name.replace('_', '-')}",
        metavar=metavar,
        help=f"--executor slurm: {text}, for every run (overrides experiment.slurm.{name}).",
        show_default=False,
        rich_help_panel="Slurm (--executor slurm)",
    )


_SlurmPartition = Annotated[str | None, _slurm_option("partition", "NAME", "the partition")]
_SlurmTime = Annotated[
    str | None,
    _slurm_option("time", "TIME", "the time limit (minutes, or HH:MM:SS, D-HH:MM:SS)"),
]
_SlurmCpus = Annotated[int | None, _slurm_option("cpus_per_task", "N", "CPUs per job")]
_SlurmGpus = Annotated[int | None, _slurm_option("gpus_per_node", "N", "GPUs per job")]
_SlurmMem = Annotated[float | None, _slurm_option("mem_gb", "GB", "memory per job in GB")]
_SlurmAccount = Annotated[str | None, _slurm_option("account", "NAME", "the account to charge")]
_SlurmQos = Annotated[str | None, _slurm_option("qos", "NAME", "the quality of service")]
_SlurmFolder = Annotated[
    Path | None,
    typer.Option(
        "--slurm-folder",
        metavar="DIR",
        help="--executor slurm: where submitit keeps job scripts, logs and results; on a "
        "filesystem the nodes share [default: WORKSPACE/.slurm].",
        show_default=False,
        rich_help_panel="Slurm (--executor slurm)",
    ),
]


def _slurm_folder(executor: str, root: Path, given: Path | None, detach: bool) -> str | None:
    """submitit's folder for --executor slurm; --slurm-folder and --detach refused for
    another executor."""
    if (given is not None or detach) and executor != "slurm":
        option = "--detach" if detach else "--slurm-folder"
        raise ConfigError(
            f"{option} is for --executor slurm, not {executor}; add --executor slurm or "
            f"remove {option}."
        )
    if executor != "slurm":
        return None
    return str(given or root / ".slurm")


def run(
    ctx: typer.Context,
    arguments: _Arguments = None,
    suite: _Suite = None,
    seeds: _Seeds = None,
    set_: _Set = None,
    dry_run: _DryRun = False,
    rerun: _Rerun = False,
    jobs: _Jobs = 1,
    timeout: _Timeout = None,
    retries: _Retries = 0,
    stop_on_error: _StopOnError = False,
    executor: _Executor = "local",
    address: _Address = None,
    detach: _Detach = False,
    slurm_partition: _SlurmPartition = None,
    slurm_time: _SlurmTime = None,
    slurm_cpus_per_task: _SlurmCpus = None,
    slurm_gpus_per_node: _SlurmGpus = None,
    slurm_mem_gb: _SlurmMem = None,
    slurm_account: _SlurmAccount = None,
    slurm_qos: _SlurmQos = None,
    slurm_folder: _SlurmFolder = None,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Run experiments: plan the runs of config and suite files, skip what already completed,
    run the rest (each in its own process), and report. Exit status: 0 when every run
    completed, 1 when one failed, 2 for a mistake in the command or configs, 130 after Ctrl-C,
    143 after SIGTERM.
    """
    from trialbook.execution import Runner, make_executor

    plan = plan_from_arguments(ctx, list(arguments or []), suite=suite, seeds=seeds, sets=set_)
    ws = workspace(ctx, root, store)
    slurm = {
        "partition": slurm_partition,
        "time": slurm_time,
        "cpus_per_task": slurm_cpus_per_task,
        "gpus_per_node": slurm_gpus_per_node,
        "mem_gb": slurm_mem_gb,
        "account": slurm_account,
        "qos": slurm_qos,
    }
    folder = _slurm_folder(executor, ws.root, slurm_folder, detach)
    runner = Runner(
        root=ws.root,
        store_url=ws.store_url,
        executor=make_executor(
            executor,
            jobs=jobs,
            address=address,
            slurm={k: v for k, v in slurm.items() if v is not None},
            folder=folder,
        ),
        jobs=jobs,
        timeout=timeout,
        retries=retries,
        stop_on_error=stop_on_error,
        rerun=rerun,
        detach=detach,
    )
    # Checked once (code, configs against schemas, settings); bad code is reported before
    # the notes are printed, and neither preview nor run checks again.
    prepared = runner.prepare(plan)
    if dry_run:
        _print_plan(Output(), plan, runner.preview(prepared))
        return
    for note in plan.notes:
        typer.echo(f"note: {note}")
    with runner.executor:
        result = runner.run(prepared)
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
