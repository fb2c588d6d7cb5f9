"""The options every command shares (``--root``, ``--store``) and what they open.

Both options are accepted before the command (``trialbook --root runs ls``) and after it
(``trialbook ls --root runs``); the later one wins. Environment variables and pyproject.toml
defaults are applied by :meth:`trialbook.Workspace.resolve`, after both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trialbook._workspace import Workspace

if TYPE_CHECKING:
    from trialbook.store import Store

__all__ = [
    "GlobalOptions",
    "JsonOption",
    "RootOption",
    "StoreOption",
    "open_store",
    "workspace",
]

_PANEL = "Workspace"

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
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="Print machine-readable JSON only."),
]


@dataclass
class GlobalOptions:
    """``--root`` / ``--store`` given before the command name; kept on the click context."""

    root: Path | None = None
    store: str | None = None


def workspace(ctx: typer.Context, root: Path | None, store: str | None) -> Workspace:
    """The workspace named by the command's options, else the global ones, else the defaults."""
    glob = ctx.find_object(GlobalOptions) or GlobalOptions()
    return Workspace.resolve(root or glob.root, store or glob.store)


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
