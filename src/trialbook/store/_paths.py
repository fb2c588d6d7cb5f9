"""Run folders (and the files in them) stored relative to the workspace root.

The database keeps paths inside the workspace as relative POSIX paths (``mlp_3f2a1c``,
``mlp_3f2a1c/artifacts/model.pt``), so a workspace can be copied, moved or archived and
opened elsewhere: a relative path is resolved against the root the Store was opened with.
A path outside the root is kept absolute, as given.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

__all__ = ["WorkspacePaths"]


class WorkspacePaths:
    """Turns paths into their stored form and back, for one workspace root (or none)."""

    def __init__(self, root: str | os.PathLike[str] | None) -> None:
        self.root = Path(os.path.abspath(root)) if root is not None else None
        self._real_root = Path(os.path.realpath(self.root)) if self.root is not None else None

    def to_stored(self, path: str | None) -> str | None:
        """The form kept in the database: relative to the root when inside it."""
        if path is None or self.root is None or not os.path.isabs(path):
            return path
        absolute = Path(os.path.abspath(path))
        for root, candidate in (
            (self.root, absolute),
            (self._real_root, Path(os.path.realpath(absolute))),
        ):
            assert root is not None
            try:
                rel = candidate.relative_to(root)
            except ValueError:
                continue
            return PurePosixPath(*rel.parts).as_posix() if rel.parts else "."
        return path

    def from_stored(self, stored: str | None) -> str | None:
        """The absolute path of a stored one (relative ones resolved against the root)."""
        if stored is None or self.root is None or os.path.isabs(stored):
            return stored
        return str(self.root / stored) if stored != "." else str(self.root)
