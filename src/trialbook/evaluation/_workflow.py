"""Evaluating and recording: score a model (or saved predictions) on a benchmark and record
the result under an existing run or as a new run of an experiment, saying what was kept when
recording fails part-way."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trialbook._workspace import Workspace
from trialbook.errors import ConfigError, StoreError, TrialbookError, WorkspaceError
from trialbook.evaluation._benchmark import BaseBenchmark
from trialbook.evaluation._loop import run_benchmark
from trialbook.evaluation._predictions import PredictionsFile
from trialbook.evaluation._records import EvaluationResult
from trialbook.evaluation._registry import BenchmarkRegistry

__all__ = [
    "DEFAULT_EXPERIMENT",
    "EvaluationNotRecorded",
    "RecordedEvaluation",
    "evaluate_and_record",
]

#: The experiment a new evaluation run goes to when neither ``run`` nor ``experiment`` is given.
DEFAULT_EXPERIMENT = "evaluate"

#: What a result's config says about the outcome rather than the setting (left out of a new
#: run's config).
_OUTCOME = ("model", "missing", "missing_ids", "predictions")


class EvaluationNotRecorded(TrialbookError):
    """Recording an evaluation failed part-way. ``kept`` says what was kept and where (one
    sentence); ``__cause__`` is the failure itself (an ``OSError`` such as a full disk, or a
    :class:`~trialbook.errors.StoreError`)."""

    def __init__(self, cause: BaseException, kept: str) -> None:
        super().__init__(f"Recording the evaluation failed ({cause}). {kept}")
        self.kept = kept


@dataclass(frozen=True)
class RecordedEvaluation:
    """An evaluation's result and the id of the run it is recorded under."""

    run_id: str
    result: EvaluationResult

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data: benchmark, split, n, metrics, run_id, timing, and
        ``missing`` (examples without a prediction) and ``slices`` when there are any."""
        result = self.result
        doc: dict[str, Any] = {
            "benchmark": result.benchmark,
            "split": result.split,
            "n": result.n,
            "metrics": dict(result.metrics),
            "run_id": self.run_id,
            "timing": result.timing.to_dict(),
        }
        if result.config.get("missing"):
            doc["missing"] = result.config["missing"]
        if result.slices:
            doc["slices"] = {
                f: {v: dict(m) for v, m in s.items()} for f, s in result.slices.items()
            }
        return doc


def evaluate_and_record(
    benchmark: str | BaseBenchmark,
    model: Any,
    *,
    split: str = "test",
    num_samples: int | None = None,
    batch_size: int | None = None,
    run: str | None = None,
    experiment: str | None = None,
    root: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    progress: bool = True,
    **options: Any,
) -> RecordedEvaluation:
    """Evaluate ``model`` on ``benchmark`` and record the result with every per-sample result
    (in the Store and the run folder's ``evaluations/<benchmark>.jsonl``).

    With ``run`` the evaluation is added to that run (whatever its status); otherwise a new
    run of ``experiment`` (default ``"evaluate"``) is created, named
    ``<benchmark>-<model or predictions file>``, with the benchmark's options, the split,
    ``num_samples`` and the model spec as its config. The run and the workspace are checked
    before evaluating, so a misspelt run or an unwritable workspace costs nothing; nothing
    is recorded when the evaluation fails.

    Args:
        benchmark: a registered name (``"gsm8k"``) or a benchmark instance.
        model: a model spec (``"hf:PATH"``, ``"openai:URL?model=NAME"``,
            ``"python:MODULE:FUNCTION"``), a :class:`~trialbook.evaluation.Model` or function
            from prompts to texts, or a :class:`~trialbook.evaluation.PredictionsFile`.
        split, num_samples, batch_size, progress: as :func:`trialbook.evaluation.evaluate`.
        run: an existing run (id, unique prefix, short id or name) to add the evaluation to.
        experiment: the experiment of the new run (not with ``run``).
        root, store_url: the workspace (default: ``TRIALBOOK_ROOT`` / ``TRIALBOOK_STORE``,
            else ``./trialbook``).
        options: benchmark options when ``benchmark`` is a name.

    Raises:
        ConfigError: ``run`` and ``experiment`` both given, an unknown benchmark, split or
            option, a bad model spec or predictions file.
        RunNotFoundError / AmbiguousRunError: ``run`` matches no run or several.
        WorkspaceError: the workspace cannot be written (nothing was evaluated).
        ModelError: the model failed.
        EvaluationNotRecorded: recording failed part-way; its ``kept`` says what was kept.
    """
    if run is not None and experiment is not None:
        raise ConfigError(
            "Give run (an existing run to add the evaluation to) or experiment (the "
            "experiment of a new run), not both.",
            parameter="experiment",
            value=experiment,
        )
    if isinstance(benchmark, str):
        bench = BenchmarkRegistry.get(benchmark, **options)
    elif options:
        raise ConfigError(
            f"Options {', '.join(sorted(options))} apply to a benchmark name; set them "
            f"when building {benchmark!r} instead."
        )
    else:
        bench = benchmark
    ws = Workspace.resolve(root, store_url)
    target = None
    if run is not None:
        with ws.open_store(create=False) as db:
            target = db.get_run(run).id
    else:
        check_writable(ws.root)
    spec = model if isinstance(model, str) else None
    source = _load_model(model)
    result = run_benchmark(
        source,
        bench,
        split=split,
        num_samples=num_samples,
        batch_size=batch_size,
        progress=progress,
    )
    if target is not None:
        _record_in(ws, target, bench.name, result)
        return RecordedEvaluation(target, result)
    predictions = isinstance(source, PredictionsFile)
    # The benchmark's options and the batch size, then what the caller named: the spec,
    # not the model's display name.
    config = {
        **{k: v for k, v in result.config.items() if k not in _OUTCOME},
        "benchmark": benchmark if isinstance(benchmark, str) else bench.name,
        "split": split,
        "num_samples": num_samples,
        "model": None if predictions else spec or result.config.get("model"),
        "predictions": str(source.path) if predictions else None,
    }
    name = f"{bench.name}-{_source_name(source, spec)}"
    run_id = _record_as_new_run(ws, experiment or DEFAULT_EXPERIMENT, name, config, result)
    return RecordedEvaluation(run_id, result)


def check_writable(root: Path) -> None:
    """Refuse a workspace that cannot be written, creating nothing.

    Raises:
        WorkspaceError: the nearest existing folder of ``root`` is a file or not writable.
    """
    existing = root
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    problem = (
        f"{existing} is not a folder"
        if not existing.is_dir()
        else f"{existing} is not writable"
        if not os.access(existing, os.W_OK | os.X_OK)
        else None
    )
    if problem is not None:
        raise WorkspaceError(
            f"Cannot write to the workspace {root} ({problem}); fix its permissions or "
            "choose another with root=... (TRIALBOOK_ROOT).",
            parameter="root",
            value=root,
        )


def _load_model(model: Any) -> Any:
    if isinstance(model, str):
        from trialbook.evaluation.models import load_model

        return load_model(model)
    return model


def _record_in(ws: Workspace, run_id: str, benchmark: str, result: EvaluationResult) -> None:
    from trialbook.tracking import add_evaluation

    try:
        with ws.open_store(create=False) as db:
            add_evaluation(run_id, benchmark, result, store=db)
    except (OSError, StoreError) as e:
        raise EvaluationNotRecorded(e, _what_was_kept(e, run_id, benchmark)) from e


def _record_as_new_run(
    ws: Workspace, experiment: str, name: str, config: dict[str, Any], result: EvaluationResult
) -> str:
    from trialbook.tracking import start_run

    created: str | None = None
    failed: BaseException | None = None
    try:
        with start_run(
            experiment,
            config,
            name=name,
            root=ws.root,
            store_url=ws.store_url,
            system_metrics=False,
        ) as new_run:
            created = new_run.id
            try:
                new_run.log_evaluation(result.benchmark, result)
            except (OSError, StoreError) as e:
                failed = e
                raise
            return new_run.id
    except (OSError, StoreError) as e:
        if created is None:
            kept = "No run was created."
        elif failed is None:
            kept = (
                f"The evaluation is recorded in the new run {created}, but the run could "
                "not be marked finished."
            )
        else:
            kept = _what_was_kept(failed, created, result.benchmark, new=True)
        raise EvaluationNotRecorded(e, kept) from e


def _what_was_kept(error: BaseException, run_id: str, benchmark: str, new: bool = False) -> str:
    """What a failed recording left behind. The Store's rows are written in one transaction
    before the run folder's files, so a StoreError means no row was kept."""
    failed = " (the new run is marked failed)" if new else ""
    if isinstance(error, StoreError):
        return f"Nothing of the {benchmark} evaluation was recorded in run {run_id}{failed}."
    return (
        f"The {benchmark} evaluation is in the database under run {run_id}{failed}, but its "
        "per-sample file in the run folder's evaluations/ or summary.json is not up to date."
    )


def _source_name(source: Any, spec: str | None) -> str:
    """What a new run is named after (``<benchmark>-<this>``): the predictions file's stem,
    else the model's name (an endpoint's model name, a model folder's name), the function's
    name for a ``python:MODULE:FUNCTION`` spec."""
    if isinstance(source, PredictionsFile):
        return source.path.stem
    name = str(getattr(source, "name", "") or "")
    if spec is not None and spec.strip().lower().startswith("python:"):
        name = name.rsplit(":", 1)[-1]
    return name.strip() or "model"
