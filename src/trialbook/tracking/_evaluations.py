"""Adding an evaluation to a run that is not live in this process (finished, or another
process's): the Store rows, ``evaluations/<benchmark>.jsonl`` and summary.json."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from trialbook._workspace import Workspace
from trialbook.errors import WorkspaceError
from trialbook.store._base import Store
from trialbook.store._records import Evaluation
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._run import _sample_json, store_evaluation

__all__ = ["add_evaluation", "require_folder"]


def require_folder(folder: str | None, run_id: str) -> Path | None:
    """The run's folder, which must exist when the run has one: writing only to the database
    would leave the folder's summary.json and evaluations/ silently out of date.

    Raises:
        WorkspaceError: the run names a folder that is not there.
    """
    if not folder:
        return None
    path = Path(folder)
    if not path.is_dir():
        raise WorkspaceError(
            f"The folder of run {run_id}, {path}, is missing, so nothing was recorded; "
            "restore it (or open the workspace it was moved to with root=...) and try again.",
            parameter="root",
            value=path,
        )
    return path


def add_evaluation(
    run: str,
    benchmark: str,
    result: Any,
    *,
    split: str | None = None,
    store: Store | None = None,
    root: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
) -> Evaluation:
    """Record ``result`` as evaluation ``benchmark`` of ``run``, whatever the run's status.

    ``run`` is an id, unique id prefix, short id or name (as ``trialbook show`` takes);
    ``result`` what :meth:`trialbook.Run.log_evaluation` takes (an EvaluationResult or a
    mapping with ``metrics`` and optional ``samples``). The summary and samples go to the
    Store; the samples also to ``evaluations/<benchmark>.jsonl`` and the summary into the
    ``evaluations`` of summary.json when the run folder exists. A run's status and end time
    are left as they are. A later evaluation under the same name takes an earlier one's
    place in summary.json (the Store keeps both).

    Args:
        store: an open Store to use (else the workspace's, from ``root`` / ``store_url``).

    Raises:
        RunNotFoundError / AmbiguousRunError: ``run`` matches no run or several.
        ConfigError: ``result`` has no metrics.
        WorkspaceError: the run's folder is missing (nothing is recorded).
    """
    owned = store is None
    db = Workspace.resolve(root, store_url).open_store(create=False) if store is None else store
    try:
        record = db.get_run(run)
        path = require_folder(record.folder, record.id)
        evaluation, samples = store_evaluation(db, record.id, benchmark, result, split)
        if path is not None:
            folder = RunFolder(path)
            if samples:
                folder.write_samples(benchmark, (_sample_json(s) for s in samples))
            summary = folder.read_json(folder.summary_path)
            summary.setdefault("run_id", record.id)
            summary["evaluations"] = {
                e.benchmark: {"split": e.split, "n": e.n, "metrics": dict(e.metrics)}
                for e in db.evaluations(record.id)
            }
            folder.write_summary(summary)
        return evaluation
    finally:
        if owned:
            db.close()
