"""``trialbook db upgrade`` and ``trialbook db status``: the schema of the workspace's database."""

from __future__ import annotations

import typer

from trialbook.cli._options import JsonOption, RootOption, StoreOption, workspace
from trialbook.cli._output import Output, Styled, print_json
from trialbook.cli._stats import safe_url
from trialbook.errors import WorkspaceError

__all__ = ["app"]

app = typer.Typer(
    name="db",
    help="Inspect and migrate the workspace's database schema.",
    no_args_is_help=True,
)


def _where(ws_url: str, db_path: object) -> str:
    return str(db_path) if db_path is not None else safe_url(ws_url)


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
    where = _where(ws.store_url, ws.db_path)
    before, after = upgrade_store(ws.store_url)
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
    where = _where(ws.store_url, ws.db_path)
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
