"""Finding the workspace (the folder of run folders and its index database)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trialbook.store._base import Store

from trialbook.errors import ConfigError, WorkspaceError

__all__ = ["DEFAULT_ROOT", "Workspace", "open_store", "store_scope"]

DEFAULT_ROOT = "experiments"
DB_NAME = "trialbook.db"

#: Workspace folders this process proved writable, by path, with the (device, inode) they
#: had: the write test is not repeated for every run while the same folder is still there
#: and still writable for this process (``os.access``).
_writable: dict[Path, tuple[int, int]] = {}


#: Parsed pyproject.toml files by path, with the (inode, size, mtime) they were read at:
#: ``start_run`` resolves its workspace on every run.
_parsed: dict[Path, tuple[tuple[int, int, int], dict[str, Any]]] = {}


def _read_toml(candidate: Path) -> dict[str, Any]:
    """``candidate`` parsed, from the cache while the file is unchanged."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
    try:
        st = candidate.stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        cached = _parsed.get(candidate)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        data: dict[str, Any] = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ConfigError(f"Cannot read {candidate}: {e}; fix its TOML.") from e
    if len(_parsed) > 64:
        _parsed.clear()
    _parsed[candidate] = (stamp, data)
    return data


def _pyproject_defaults(start: Path) -> tuple[dict[str, Any], Path] | None:
    """The ``[tool.trialbook]`` table of the nearest pyproject.toml, and its folder."""
    if sys.version_info < (3, 11):  # pragma: no cover - Python 3.10
        try:
            import tomli  # noqa: F401
        except ImportError:
            return None
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            data = _read_toml(candidate)
            table = data.get("tool", {}).get("trialbook")
            return (table, folder) if isinstance(table, dict) else None
    return None


@dataclass(frozen=True)
class Workspace:
    """A workspace folder and the store URL that indexes it.

    Resolution order: explicit arguments, then ``TRIALBOOK_ROOT`` / ``TRIALBOOK_STORE``,
    then ``root`` / ``store`` in ``[tool.trialbook]`` of the nearest pyproject.toml, then
    ``./experiments`` with ``<root>/trialbook.db``.
    """

    root: Path
    store_url: str

    def __repr__(self) -> str:
        # A Workspace shown in a traceback or a notebook never shows the store's password.
        from trialbook.store._dialect import safe_url

        return f"Workspace(root={self.root!r}, store_url={safe_url(self.store_url)!r})"

    @classmethod
    def resolve(
        cls, root: str | os.PathLike[str] | None = None, store_url: str | None = None
    ) -> Workspace:
        """The workspace at ``root`` indexed by the database at ``store_url`` (a SQLAlchemy
        URL), each defaulted as the class says."""
        root = root or os.environ.get("TRIALBOOK_ROOT") or None
        store_url = store_url or os.environ.get("TRIALBOOK_STORE") or None
        if root is None or store_url is None:
            found = _pyproject_defaults(Path.cwd())
            if found is not None:
                table, folder = found
                if root is None and table.get("root"):
                    root = folder / str(table["root"])
                if store_url is None and table.get("store"):
                    store_url = str(table["store"])
        root_path = Path(root if root is not None else DEFAULT_ROOT).expanduser().absolute()
        return cls(root_path, store_url or f"sqlite:///{root_path / DB_NAME}")

    @property
    def db_path(self) -> Path | None:
        from trialbook.store._dialect import sqlite_path

        return sqlite_path(self.store_url)

    def ensure_writable(self) -> None:
        """Create the root folder if needed and prove it can be written to.

        Raises:
            WorkspaceError: the folder cannot be created or written.
        """
        try:
            st = self.root.stat()
            if _writable.get(self.root) == (st.st_dev, st.st_ino) and os.access(
                self.root, os.W_OK | os.X_OK
            ):
                return
        except OSError:
            pass
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.root, prefix=".write-test-"):
                pass
            st = self.root.stat()
        except OSError as e:
            raise WorkspaceError(
                f"Cannot write to the workspace {self.root} ({e.strerror or e}); fix its "
                "permissions or choose another with root=... or TRIALBOOK_ROOT.",
                parameter="root",
                value=self.root,
            ) from e
        if len(_writable) > 64:
            _writable.clear()
        _writable[self.root] = (st.st_dev, st.st_ino)

    def open_store(self, create: bool = False) -> Store:
        """Open this workspace's Store; with ``create``, make the folder and database.

        An existing SQLite file is opened (and so checked) before the folder is made: a
        ``store_url`` that is refused creates nothing.
        """
        from trialbook.store._connect import connect
        from trialbook.store._dialect import require_driver

        require_driver(self.store_url)  # before anything is created
        path = self.db_path
        if create and path is not None and path.exists():
            # An existing file is checked first (garbage or someone else's tables are refused)
            # so that a refused store_url leaves no workspace folder made for it behind.
            store = connect(self.store_url, create=True, root=self.root)
            try:
                self.ensure_writable()
            except BaseException:
                store.close()
                raise
            return store
        if create:
            self.ensure_writable()
        return connect(self.store_url, create=create, root=self.root)


def open_store(
    root: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    *,
    create: bool = False,
) -> Store:
    """Open the Store of a workspace (``./experiments`` by default) or of a store URL.

    Returns a :class:`trialbook.store.Store`. Raises :class:`~trialbook.errors.WorkspaceError`
    when there is no database there and ``create`` is false.
    """
    return Workspace.resolve(root, store_url).open_store(create=create)


@contextmanager
def store_scope(
    root: str | os.PathLike[str] | None = None,
    store: Store | None = None,
    store_url: str | None = None,
) -> Iterator[Store]:
    """``store`` when given (left open), else the existing Store of the workspace ``root`` /
    the database at ``store_url``, closed afterwards: how a function taking ``root=``,
    ``store=`` and ``store_url=`` gets its Store.

    Raises:
        ConfigError: ``store`` is not a Store (a URL goes in ``store_url``).
        WorkspaceError: there is no database there.
    """
    from trialbook.store._base import Store as StoreBase

    if store is not None:
        if not isinstance(store, StoreBase):
            raise ConfigError(
                f"store={store!r} is not an open Store; pass a store URL as store_url=... "
                "(or a workspace folder as root=...).",
                parameter="store",
                value=store,
            )
        yield store
        return
    db = open_store(root, store_url, create=False)
    try:
        yield db
    finally:
        db.close()
