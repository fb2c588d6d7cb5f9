"""Adding an evaluation to a run that is not live in this process (finished, or another
process's): the Store rows, ``evaluations/<benchmark>.jsonl`` and summary.json."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from trialbook._workspace import Workspace
from trialbook.store._base import Store
from trialbook.store._records import Evaluation
from trialbook.tracking._folder import RunFolder
from trialbook.tracking._run import _sample_json, store_evaluation

__all__ = ["add_evaluation"]


def add_evaluation(
    run: str,
    benchmark: str,
    result: Any,
    *,
    split: str | None = None,
    store: Store | None = None,
    root: str | os.PathLike[str] | None = None,
    url: str | None = None,
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
        store: an open Store to use (else the workspace's, from ``root`` / ``url``).

    Raises:
        RunNotFoundError / AmbiguousRunError: ``run`` matches no run or several.
        ConfigError: ``result`` has no metrics.
    """
    owned = store is None
    db = Workspace.resolve(root, url).open_store(create=False) if store is None else store
    try:
        record = db.get_run(run)
        evaluation, samples = store_evaluation(db, record.id, benchmark, result, split)
        if record.folder and Path(record.folder).is_dir():
            folder = RunFolder(Path(record.folder))
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
