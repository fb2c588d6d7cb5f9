"""run folders relative to the workspace root

Revision ID: tb0002
Revises: tb0001
Create Date: 2026-12-04 22:40:00

Until tb0001 a run's folder (and the paths of its artifacts and checkpoints) were stored as
absolute paths, so a copied or moved workspace read and wrote the original's folders. From
tb0002 a path inside the workspace is stored relative to its root. Which old paths become
relative:

* a folder named like a run folder of its run (``<name>_<short id>``, the only form
  trialbook makes, always directly in the workspace root) becomes that name, wherever it
  pointed: a workspace copied or moved before the upgrade still names the old root, and
  its runs are the copy's own folders;
* otherwise a folder inside the workspace root the upgrade is told (``trialbook db upgrade
  --root``, else the database file's folder) becomes its path relative to that root;
* any other folder stays absolute (a folder the user placed elsewhere).

Artifact and checkpoint paths inside a run's old folder move with it; other paths inside
the root become relative; the rest stay as they are. No table changes shape, so nothing
here needs SQLite's batch mode.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from alembic import context, op

revision = "tb0002"
down_revision = "tb0001"
branch_labels = None
depends_on = None

_runs = sa.table("runs", sa.column("id", sa.String), sa.column("folder", sa.Text))
_artifacts = sa.table(
    "artifacts", sa.column("id", sa.Integer), sa.column("run_id", sa.String), sa.column("path")
)
_checkpoints = sa.table(
    "checkpoints", sa.column("id", sa.Integer), sa.column("run_id", sa.String), sa.column("path")
)


def _root(bind: sa.Connection) -> Path | None:
    root = context.config.attributes.get("workspace_root")
    if root is not None:
        return Path(root)
    database = bind.engine.url.database
    if bind.dialect.name == "sqlite" and database and database != ":memory:":
        return Path(database).absolute().parent
    return None


def _relative_to(path: str, root: Path | None) -> str | None:
    if root is None:
        return None
    try:
        rel = Path(os.path.normpath(path)).relative_to(root)
    except ValueError:
        return None
    return PurePosixPath(*rel.parts).as_posix() if rel.parts else None


def _new_folder(run_id: str, folder: str, root: Path | None) -> str | None:
    name = PurePosixPath(folder.replace(os.sep, "/")).name
    if name.endswith("_" + run_id.rsplit("_", 1)[-1]):
        return name
    return _relative_to(folder, root)


def _move(path: str, old_folder: str | None, new_folder: str | None, root: Path | None) -> str:
    if old_folder and new_folder and os.path.isabs(old_folder):
        prefix = old_folder.rstrip("/") + "/"
        if path.startswith(prefix):
            return new_folder + "/" + path[len(prefix) :]
    return _relative_to(path, root) or path


def upgrade() -> None:
    bind = op.get_bind()
    root = _root(bind)
    old: dict[str, str | None] = {}
    new: dict[str, str | None] = {}
    for run_id, folder in bind.execute(sa.select(_runs.c.id, _runs.c.folder)).all():
        old[run_id] = folder
        if not folder or not os.path.isabs(folder):
            new[run_id] = folder
            continue
        moved = _new_folder(run_id, folder, root)
        new[run_id] = moved or folder
        if moved is not None:
            bind.execute(sa.update(_runs).where(_runs.c.id == run_id).values(folder=moved))
    for table in (_artifacts, _checkpoints):
        for id_, run_id, path in bind.execute(
            sa.select(table.c.id, table.c.run_id, table.c.path)
        ).all():
            if not path or not os.path.isabs(path):
                continue
            moved_path = _move(path, old.get(run_id), new.get(run_id), root)
            if moved_path != path:
                bind.execute(sa.update(table).where(table.c.id == id_).values(path=moved_path))


def downgrade() -> None:
    bind = op.get_bind()
    root = _root(bind)
    if root is None:
        raise RuntimeError("Downgrading to tb0001 needs the workspace root.")
    for table, column in ((_runs, _runs.c.folder), (_artifacts, None), (_checkpoints, None)):
        col = column if column is not None else table.c.path
        key = table.c.id
        for id_, value in bind.execute(sa.select(key, col)).all():
            if value and not os.path.isabs(value):
                bind.execute(
                    sa.update(table).where(key == id_).values({col.name: str(root / value)})
                )
