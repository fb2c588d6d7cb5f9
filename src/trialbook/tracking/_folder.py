"""The run folder: config.yaml, meta.json, summary.json, checkpoint/, artifacts/, evaluations/."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from trialbook._atomic import atomic_write, fsync_file
from trialbook._atomic import sync_folder as _sync_folder
from trialbook._values import jsonable, read_json_object

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["RunFolder", "folder_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


#: One thread per process syncs run folders' files off the caller's thread (RunFolder.sync_later);
#: made on first use, and joined at interpreter exit like every ThreadPoolExecutor.
_syncer: ThreadPoolExecutor | None = None
#: Syncs not yet waited for, by folder.
_pending: dict[Path, list[Future[None]]] = {}
_syncer_lock = threading.Lock()


def _forget_syncs_after_fork() -> None:
    # A forked child has none of its parent's threads: it makes its own syncer if it needs one.
    global _syncer, _pending, _syncer_lock
    _syncer, _pending, _syncer_lock = None, {}, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_syncs_after_fork)


def _sync_files(paths: list[Path], folder: Path) -> None:
    for path in paths:
        fsync_file(path)
    _sync_folder(folder)


def folder_name(run_name: str, short_id: str) -> str:
    """``<run-name>_<short-id>`` with the name made safe for every filesystem."""
    safe = _UNSAFE.sub("-", run_name).strip("-.")[:60] or "run"
    return f"{safe}_{short_id}"


class RunFolder:
    """The files of one run; every write is atomic."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def meta_path(self) -> Path:
        return self.path / "meta.json"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoint"

    @property
    def artifacts_dir(self) -> Path:
        return self.path / "artifacts"

    @property
    def evaluations_dir(self) -> Path:
        return self.path / "evaluations"

    def create(self) -> None:
        self.path.mkdir(parents=True, exist_ok=False)
        self.checkpoint_dir.mkdir()
        self.artifacts_dir.mkdir()

    def sync(self) -> None:
        """Make the files written with ``sync_folder=False`` survive a power cut (one folder
        fsync for all of them; each file itself is synced as it is written)."""
        _sync_folder(self.path)

    def sync_later(self, paths: Iterable[Path]) -> None:
        """Make ``paths`` (files of this folder written with ``sync=False``) and the folder
        survive a power cut, in this process's background thread: the caller goes on at once
        (an fsync takes milliseconds, more on a busy disk). :meth:`wait_synced` waits."""
        global _syncer
        from concurrent.futures import ThreadPoolExecutor

        with _syncer_lock:
            if _syncer is None:
                _syncer = ThreadPoolExecutor(1, thread_name_prefix="trialbook-fsync")
            future = _syncer.submit(_sync_files, list(paths), self.path)
            _pending.setdefault(self.path, []).append(future)

    def wait_synced(self) -> None:
        """Wait for this folder's :meth:`sync_later` syncs.

        Raises:
            OSError: a file could not be synced (the first such error).
        """
        with _syncer_lock:
            futures = _pending.pop(self.path, [])
        errors = [e for e in (f.exception() for f in futures) if e is not None]
        if errors:
            raise errors[0]

    def write_config(
        self, config: Mapping[str, Any], *, sync_folder: bool = True, sync: bool = True
    ) -> None:
        atomic_write(
            self.config_path,
            yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True),
            sync_folder=sync_folder,
            sync=sync,
        )

    def write_json(
        self,
        path: Path,
        data: Mapping[str, Any],
        *,
        sync_folder: bool = True,
        sync: bool = True,
    ) -> None:
        atomic_write(
            path,
            json.dumps(jsonable(data), indent=2, default=str, allow_nan=False) + "\n",
            sync_folder=sync_folder,
            sync=sync,
        )

    def write_meta(
        self, meta: Mapping[str, Any], *, sync_folder: bool = True, sync: bool = True
    ) -> None:
        self.write_json(self.meta_path, meta, sync_folder=sync_folder, sync=sync)

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        self.write_json(self.summary_path, summary)

    def read_json(self, path: Path) -> dict[str, Any]:
        """The JSON object in ``path``; ``{}`` when the file is missing or holds no object.

        Raises:
            OSError: the file exists but cannot be read.
            ValueError: the file is not JSON.
        """
        if not path.exists():
            return {}
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}

    def read_meta(self) -> dict[str, Any] | None:
        """meta.json (provenance: git, host, device, environment, command, data), or None
        when the folder or file is gone, unreadable or not a JSON object."""
        return read_json_object(self.meta_path)

    def read_summary(self) -> dict[str, Any] | None:
        """summary.json (the last and best metric values, the latest evaluations), or None
        when the folder or file is gone, unreadable or not a JSON object."""
        return read_json_object(self.summary_path)

    @property
    def diff_path(self) -> Path:
        return self.path / "diff.patch"

    def write_diff(self, diff: str, *, sync_folder: bool = True, sync: bool = True) -> None:
        atomic_write(self.diff_path, diff, sync_folder=sync_folder, sync=sync)

    def write_samples(self, benchmark: str, records: Iterable[Mapping[str, Any]]) -> Path:
        """Write per-sample results as ``evaluations/<benchmark>.jsonl``."""
        self.evaluations_dir.mkdir(exist_ok=True)
        path = self.evaluations_dir / f"{_UNSAFE.sub('-', benchmark)}.jsonl"
        lines = (
            json.dumps(jsonable(r), ensure_ascii=False, default=str, allow_nan=False)
            for r in records
        )
        atomic_write(path, "".join(line + "\n" for line in lines))
        return path
