"""``trialbook db upgrade`` / ``status`` (the schema of the workspace's database), ``check``
(SQLite's integrity check), ``recover`` (a new database from what is readable) and ``copy``
(a whole index into another database, SQLite to PostgreSQL and back)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trialbook.cli._errors import CommandGroup
from trialbook.cli._options import (
    JsonOption,
    RootOption,
    StoreOption,
    workspace,
)
from trialbook.cli._output import Output, Styled, print_json
from trialbook.errors import ConfigError, WorkspaceError

if TYPE_CHECKING:
    from trialbook.store import CopyReport, Workspace

__all__ = ["app"]

app = typer.Typer(
    name="db",
    cls=CommandGroup,
    help="Inspect, migrate, check, recover and copy the workspace's database.",
    no_args_is_help=True,
)


def _database_label(ws: Workspace) -> str:
    """The database as a message names it: its file, else its URL with the password masked."""
    from trialbook.store import safe_url

    return str(ws.db_path) if ws.db_path is not None else safe_url(ws.store_url)


@app.command("upgrade")
def upgrade(
    ctx: typer.Context,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Migrate the database to this trialbook's schema.

    Back the database up first. An up-to-date database is left alone.
    """
    from trialbook.store import upgrade as upgrade_store

    ws = workspace(ctx, root, store)
    where = _database_label(ws)
    before, after = upgrade_store(ws.store_url, root=ws.root)
    if before == after:
        typer.echo(f"The database {where} is already at revision {after} (current).")
    else:
        typer.echo(f"Upgraded the database {where}: {before or 'empty'} -> {after}.")


@app.command("status")
def status(
    ctx: typer.Context,
    as_json: JsonOption = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Show the database's schema revision and whether it needs an upgrade."""
    from trialbook.store import SCHEMA_REVISION, schema_state

    ws = workspace(ctx, root, store)
    where = _database_label(ws)
    if ws.db_path is not None and not ws.db_path.is_file():
        # Connecting would create an empty file; a status check must not.
        raise WorkspaceError(
            f"No trialbook database at {ws.db_path}; point --root (TRIALBOOK_ROOT) or --store "
            "(TRIALBOOK_STORE) at an existing workspace."
        )
    state, revision = schema_state(ws.store_url)
    advice = {
        "current": "up to date",
        "empty": "no trialbook tables yet; run `trialbook db upgrade` to create them",
        "old": "older than this trialbook; back it up and run `trialbook db upgrade`",
        "newer": "written by a newer trialbook; upgrade trialbook to read it",
        "foreign": "not a trialbook database",
    }[state]
    if as_json:
        print_json(
            {
                "database": where,
                "revision": revision,
                "state": state,
                "expected_revision": SCHEMA_REVISION,
            }
        )
        return
    out = Output()
    out.fields(
        [
            ("database", where),
            ("revision", revision or "-"),
            ("expected", SCHEMA_REVISION),
            ("state", Styled(f"{state} ({advice})", "green" if state == "current" else "yellow")),
        ]
    )


def _sqlite_file(
    ctx: typer.Context, root: Path | None, store: str | None, command: str
) -> tuple[Workspace, Path]:
    from trialbook.store import safe_url

    ws = workspace(ctx, root, store)
    path = ws.db_path
    if path is None:
        raise ConfigError(
            f"`trialbook db {command}` works on a SQLite file; {safe_url(ws.store_url)} is "
            "not one (PostgreSQL checks its own pages: see its amcheck extension)."
        )
    if path.is_dir() or not path.exists():
        raise WorkspaceError(
            f"No database file at {path}; point --root (TRIALBOOK_ROOT) or --store "
            "(TRIALBOOK_STORE) at an existing workspace."
        )
    return ws, path


@app.command("check")
def check(
    ctx: typer.Context,
    as_json: JsonOption = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Run SQLite's full integrity check on the workspace's database (reads every page).

    Exit status 0 when it is clean, 1 when it is damaged (then run `trialbook db recover`).
    """
    from trialbook.store import check_database, store_flag

    ws, path = _sqlite_file(ctx, root, store, "check")
    problems = check_database(path, limit=100)
    flag = store_flag(ws.store_url)
    if as_json:
        print_json({"database": str(path), "ok": not problems, "problems": problems})
    if not problems:
        if not as_json:
            typer.echo(f"The database {path} passed SQLite's integrity check.")
        return
    if not as_json:
        for line in problems:
            typer.echo(line)
        typer.echo(
            f"error: the database {path} is damaged ({len(problems)} problem(s) above); run "
            f"`trialbook db recover{flag}` to copy what is readable into a new database "
            "(the damaged file is kept beside it).",
            err=True,
        )
    raise typer.Exit(1)


@app.command("recover")
def recover(
    ctx: typer.Context,
    force: bool = typer.Option(
        False, "--force", help="Rebuild the database even when it passes the integrity check."
    ),
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Copy what is readable of a damaged database into a new one, and fill in from the run
    folders what it lost.

    The damaged file is renamed to trialbook.db.damaged-<time> beside the new one (never
    deleted). Stop every trialbook process using the workspace first. Runs whose rows were
    lost come back from their folders (config.yaml, meta.json, summary.json, evaluations/)
    with their final metrics, but without their metric histories, which only the database held.
    """
    from trialbook.store import check_database
    from trialbook.tracking import recover_database as recover_db

    ws, path = _sqlite_file(ctx, root, store, "recover")
    if not force and not check_database(path, limit=1):
        typer.echo(
            f"The database {path} passed SQLite's integrity check; nothing to recover "
            "(--force rebuilds it anyway)."
        )
        return
    report = recover_db(path, ws.root)
    copied = report.copied
    typer.echo(f"Recovered {path}; the damaged file is now {report.damaged_copy}.")
    typer.echo(
        f"  copied: {copied.get('runs', 0)} run(s), {copied.get('metrics', 0)} metric "
        f"point(s), {copied.get('evaluations', 0)} evaluation(s), "
        f"{copied.get('samples', 0)} sample(s)"
    )
    if report.rebuilt_runs:
        with_points = len(report.rebuilt_with_points)
        typer.echo(
            f"  rebuilt from their folders: {len(report.rebuilt_runs)} run(s) "
            f"({with_points} with their metric points, the others with final metrics only): "
            f"{', '.join(report.rebuilt_runs)}"
        )
    if report.rebuilt_evaluations:
        typer.echo(f"  evaluations rebuilt from summary.json: {len(report.rebuilt_evaluations)}")
    lost = {t: r for t, r in report.lost.items() if r}
    for table, ranges in sorted(lost.items()):
        shown = ", ".join(
            "all" if a == -(2**63) else f"{a}-{'end' if b is None else b}" for a, b in ranges[:5]
        )
        more = f" and {len(ranges) - 5} more" if len(ranges) > 5 else ""
        typer.echo(f"  unreadable in {table}: rowids {shown}{more}")
    for table, n in sorted(report.orphans.items()):
        typer.echo(
            f"  dropped from {table}: {n} row(s) of runs or evaluations that were lost (they "
            "stay in the damaged file)"
        )
    for name in report.unreadable_folders:
        typer.echo(f"  could not read the run folder {name}")
    if not lost and not report.orphans and not report.unreadable_folders:
        typer.echo("  nothing was lost.")


# ------------------------------------------------------------------------------------ copy
_WHERE_HELP = (
    "a workspace folder (its trialbook.db), a .db file, or a store URL "
    "(sqlite:///path/trialbook.db, postgresql+psycopg://user@host/dbname)"
)


def _open_options(report: CopyReport) -> str:
    """The options that open the copy: ``--root`` (where its run folders are) and
    ``--store`` unless the copy is that folder's own trialbook.db."""
    from trialbook.store import safe_url, sqlite_path

    db = sqlite_path(report.destination)
    root = f"--root {report.root}" if report.root is not None else "--root DIR"
    if db is not None and report.root is not None and db == report.root / "trialbook.db":
        return root
    return f"{root} --store '{safe_url(report.destination)}'"


def _copy_lines(report: CopyReport) -> list[str]:
    """The summary ``db copy`` prints (without the first line)."""
    rows = report.rows
    lines = [
        f"  {rows['runs']:,} run(s) of {rows['experiments']:,} experiment(s), "
        f"{rows['metrics']:,} metric point(s) ({report.blocks:,} block(s) rebuilt), "
        f"{rows['evaluations']:,} evaluation(s) with {rows['samples']:,} sample(s), "
        f"{rows['checkpoints']:,} checkpoint(s), {rows['artifacts']:,} artifact(s)",
        "  rows per table, each equal to the source's: "
        + ", ".join(f"{name} {n:,}" for name, n in sorted(rows.items())),
    ]
    if report.folders_copied:
        lines.append(f"  copied {report.folders_copied:,} run folder(s) into {report.root}")
    where = (
        f"are found in {report.root}"
        if report.root is not None
        else "stay where they are (DIR: the folder that holds them)"
    )
    lines.append(
        f"  run folders {where}; open the copy with `trialbook ls {_open_options(report)}`"
    )
    for what, paths in (
        ("path(s) the index names are missing from the root", report.missing),
        ("path(s) outside the root kept absolute (other machines see them only there)",
         report.outside_root),
        ("run(s) were running in the source (they go on writing there, not to the copy)",
         report.running),
    ):  # fmt: skip
        if paths:
            shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
            lines.append(f"  warning: {len(paths):,} {what}: {shown}")
    return lines


@app.command("copy")
def copy(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="SRC", help=f"The index to copy: {_WHERE_HELP}.", show_default=False
        ),
    ],
    destination: Annotated[
        str,
        typer.Argument(
            metavar="DST",
            help=f"Where to copy it, an empty database: {_WHERE_HELP}.",
            show_default=False,
        ),
    ],
    folders: Annotated[
        Path | None,
        typer.Option(
            "--folders",
            metavar="DIR",
            help="Also copy the run folders into DIR, which becomes the copy's workspace root "
            "(default: they stay where they are).",
            show_default=False,
        ),
    ] = None,
    source_root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            metavar="PATH",
            help="The source's workspace folder, where its run folders are (default: the "
            "folder of a SQLite source; for PostgreSQL, TRIALBOOK_ROOT).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Copy a whole workspace index into another, empty, database: SQLite to PostgreSQL
    (how a solo workspace joins a team) or back, verifying every table's row count.

    The copy is one transaction: it is written whole or not at all. Run folders stay where
    they are (open the copy with the same --root), or are copied to --folders DIR.
    Passwords are never printed; keep them in ~/.pgpass or PGPASSWORD rather than the URL.
    """
    from trialbook.cli._options import GlobalOptions
    from trialbook.store import copy_store

    glob = ctx.find_object(GlobalOptions) or GlobalOptions()
    report = copy_store(
        source,
        destination,
        source_root=source_root or glob.root,
        folders=folders,
        progress=True,
    )
    if as_json:
        root = None if report.root is None else str(report.root)
        print_json({**asdict(report), "root": root, "seconds": round(report.seconds, 3)})
        return
    typer.echo(
        f"Copied {report.source} to {report.destination} in {report.seconds:.1f} s; "
        "every table's row count matches the source."
    )
    for line in _copy_lines(report):
        typer.echo(line)
