"""``trialbook evaluate`` (score a model or saved predictions on a benchmark and record it
under a run) and ``trialbook benchmarks`` (what is registered)."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from trialbook.cli._options import (
    JsonOption,
    PartialWrite,
    RootOption,
    StoreOption,
    int64,
    workspace,
)
from trialbook.cli._output import Column, Output, fmt_duration, fmt_number, print_json
from trialbook.errors import ConfigError, StoreError, WorkspaceError

if TYPE_CHECKING:
    from trialbook._workspace import Workspace
    from trialbook.evaluation import BaseBenchmark, EvaluationResult

__all__ = ["benchmarks", "evaluate"]

#: The experiment new evaluation runs go to when neither --run nor --experiment is given.
DEFAULT_EXPERIMENT = "evaluate"

_SOURCE = "Model or predictions"
_RECORD = "Where the result is recorded"
_BENCH = "Benchmark options"


def evaluate(
    ctx: typer.Context,
    benchmark: Annotated[
        str,
        typer.Argument(
            metavar="BENCHMARK",
            help="A registered benchmark (see `trialbook benchmarks`): gsm8k, jsonl, ...",
        ),
    ],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="SPEC",
            help="The model: hf:PATH, openai:URL?model=NAME or python:MODULE:FUNCTION.",
            rich_help_panel=_SOURCE,
        ),
    ] = None,
    predictions: Annotated[
        Path | None,
        typer.Option(
            "--predictions",
            metavar="FILE",
            help="Saved outputs instead of a model: JSONL lines with 'prediction' and "
            "'id', 'index' or 'question'.",
            rich_help_panel=_SOURCE,
        ),
    ] = None,
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="With --predictions: score only the examples the file covers.",
            rich_help_panel=_SOURCE,
        ),
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            metavar="N",
            parser=int64(),
            help="Prompts per model call (default: the model's own).",
            rich_help_panel=_SOURCE,
        ),
    ] = None,
    split: Annotated[
        str, typer.Option("--split", metavar="S", help="Dataset split.", rich_help_panel=_BENCH)
    ] = "test",
    num_samples: Annotated[
        int | None,
        typer.Option(
            "--num-samples",
            "-n",
            metavar="N",
            parser=int64(),
            help="Evaluate only the first N examples.",
            rich_help_panel=_BENCH,
        ),
    ] = None,
    extraction: Annotated[
        str | None,
        typer.Option(
            "--extraction",
            metavar="strict|flexible",
            help="GSM8K: how accuracy reads the answer (default strict: the '#### N' line).",
            rich_help_panel=_BENCH,
        ),
    ] = None,
    shots: Annotated[
        int | None,
        typer.Option(
            "--shots",
            metavar="0|8",
            parser=int64(),
            help="GSM8K: 0 or 8 chain-of-thought examples in the prompt (default 0).",
            rich_help_panel=_BENCH,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            metavar="FILE",
            help="jsonl: the JSONL file to evaluate on.",
            rich_help_panel=_BENCH,
        ),
    ] = None,
    question_field: Annotated[
        str | None,
        typer.Option(
            "--question-field",
            metavar="NAME",
            help="jsonl: the field with the question (default question).",
            rich_help_panel=_BENCH,
        ),
    ] = None,
    answer_field: Annotated[
        str | None,
        typer.Option(
            "--answer-field",
            metavar="NAME",
            help="jsonl: the field with the answer (default answer).",
            rich_help_panel=_BENCH,
        ),
    ] = None,
    id_field: Annotated[
        str | None,
        typer.Option(
            "--id-field",
            metavar="NAME",
            help="jsonl: the field with each example's id (default: its position).",
            rich_help_panel=_BENCH,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            metavar="NAME",
            help="jsonl: the evaluation's name (default: the file's stem).",
            rich_help_panel=_BENCH,
        ),
    ] = None,
    slice_by: Annotated[
        list[str] | None,
        typer.Option(
            "--slice-by",
            metavar="FIELD",
            help="jsonl: also report the metrics per value of this field (repeatable).",
            rich_help_panel=_BENCH,
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run",
            metavar="RUN",
            help="Add the evaluation to this run (id, prefix, short id or name; it may be "
            "finished).",
            rich_help_panel=_RECORD,
        ),
    ] = None,
    experiment: Annotated[
        str | None,
        typer.Option(
            "--experiment",
            metavar="NAME",
            help=f"Record it as a new run of this experiment (default {DEFAULT_EXPERIMENT}).",
            rich_help_panel=_RECORD,
        ),
    ] = None,
    as_json: JsonOption = False,
    root: RootOption = None,
    store: StoreOption = None,
) -> None:
    """Score a model, or a file of saved predictions, on a benchmark and record the result.

    Every per-sample result is kept: in the Store and in the run folder's
    evaluations/<benchmark>.jsonl. Without --run, a new run is created in experiment
    'evaluate' (or --experiment). Nothing is recorded when the evaluation fails.

    Examples:

      trialbook evaluate gsm8k --predictions preds.jsonl --run baseline

      trialbook evaluate gsm8k --model openai:http://localhost:8000/v1?model=qwen --shots 8

      trialbook evaluate jsonl --data qa.jsonl --question-field q --answer-field a
      --model python:mymodels:answer
    """
    if (model is None) == (predictions is None):
        raise ConfigError(
            "Give exactly one of --model SPEC (a model to run) or --predictions FILE (saved "
            "outputs)."
        )
    if run is not None and experiment is not None:
        raise ConfigError(
            "Give --run RUN (add to an existing run) or --experiment NAME (a new run), not both."
        )
    if allow_missing and predictions is None:
        raise ConfigError("--allow-missing applies to --predictions FILE; drop it with --model.")
    options = _benchmark_options(
        benchmark,
        extraction=extraction,
        shots=shots,
        data=data,
        question_field=question_field,
        answer_field=answer_field,
        id_field=id_field,
        name=name,
        slice_fields=slice_by or None,
    )

    from trialbook.evaluation import BenchmarkRegistry

    bench = BenchmarkRegistry.get(benchmark, **options)
    ws = workspace(ctx, root, store)
    target = None
    if run is not None:
        # Resolved before any work, so that a misspelt run costs nothing.
        with ws.open_store(create=False) as db:
            target = db.get_run(run).id
    else:
        _check_writable(ws.root)

    # With --json, stdout carries the one JSON object: whatever the model prints goes to
    # stderr while it loads and runs.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        run_id, result = _evaluate_and_record(
            ws, bench, benchmark, model, predictions, allow_missing, batch_size, split,
            num_samples, target, experiment,
        )  # fmt: skip
    _report(result, run_id, as_json)


def _evaluate_and_record(
    ws: Workspace,
    bench: BaseBenchmark,
    benchmark: str,
    model: str | None,
    predictions: Path | None,
    allow_missing: bool,
    batch_size: int | None,
    split: str,
    num_samples: int | None,
    target: str | None,
    experiment: str | None,
) -> tuple[str, EvaluationResult]:
    """Run the evaluation and record it: under ``target`` or as a new run. Returns the run's
    id and the result."""
    from trialbook.evaluation import PredictionsFile
    from trialbook.evaluation import evaluate as run_evaluation

    source: Any
    if predictions is not None:
        source = PredictionsFile(predictions, allow_missing=allow_missing)
    else:
        from trialbook.evaluation.models import load_model

        assert model is not None
        source = load_model(model)
    result = run_evaluation(
        source, bench, split=split, num_samples=num_samples, batch_size=batch_size
    )

    if target is not None:
        from trialbook.tracking import add_evaluation

        try:
            with ws.open_store(create=False) as db:
                add_evaluation(target, bench.name, result, store=db)
        except (OSError, StoreError) as e:
            raise PartialWrite(_what_was_kept(e, target, bench.name)) from e
        run_id = target
    else:
        import trialbook

        # The benchmark's options and the batch size, then what the user named on the
        # command line (the spec, not the model's display name).
        outcome = ("model", "missing", "missing_ids", "predictions")
        config = {
            **{k: v for k, v in result.config.items() if k not in outcome},
            "benchmark": benchmark,
            "split": split,
            "num_samples": num_samples,
            "model": model,
            "predictions": None if predictions is None else str(predictions),
        }
        created: str | None = None
        failed: BaseException | None = None
        try:
            with trialbook.start_run(
                experiment or DEFAULT_EXPERIMENT,
                config,
                name=f"{bench.name}-{_source_name(source, model, predictions)}",
                root=ws.root,
                store_url=ws.store_url,
                system_metrics=False,
            ) as new_run:
                created = new_run.id
                try:
                    new_run.log_evaluation(bench.name, result)
                except (OSError, StoreError) as e:
                    failed = e
                    raise
                run_id = new_run.id
        except (OSError, StoreError) as e:
            # A full disk: the handler in _app.py says so; this says what was kept.
            if created is None:
                kept = "No run was created."
            elif failed is None:
                kept = (
                    f"The evaluation is recorded in the new run {created}, but the run could "
                    "not be marked finished."
                )
            else:
                kept = _what_was_kept(failed, created, bench.name, new=True)
            raise PartialWrite(kept) from e
    return run_id, result


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


def _check_writable(root: Path) -> None:
    """Refuse a workspace that cannot be written before evaluating, creating nothing."""
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
            "choose another with --root or TRIALBOOK_ROOT."
        )


def _benchmark_options(benchmark: str, **given: Any) -> dict[str, Any]:
    """The options given on the command line, refused when the benchmark does not take them."""
    flags = {
        "extraction": "--extraction",
        "shots": "--shots",
        "data": "--data",
        "question_field": "--question-field",
        "answer_field": "--answer-field",
        "id_field": "--id-field",
        "name": "--name",
        "slice_fields": "--slice-by",
    }
    options = {k: v for k, v in given.items() if v is not None}
    gsm8k_only = {"extraction", "shots"}
    jsonl_only = {"data", "question_field", "answer_field", "id_field", "name", "slice_fields"}
    for key in options:
        owner = "gsm8k" if key in gsm8k_only else "jsonl" if key in jsonl_only else None
        if owner == "gsm8k" and benchmark != "gsm8k":
            # Third-party benchmarks may take these too; the registry checks their signature.
            continue
        if owner == "jsonl" and benchmark != "jsonl":
            raise ConfigError(
                f"{flags[key]} applies to the jsonl benchmark, not {benchmark!r}; drop it or "
                "evaluate with `trialbook evaluate jsonl --data FILE`."
            )
    if "data" in options:
        options["path"] = options.pop("data")
    if benchmark == "jsonl" and "path" not in options:
        raise ConfigError(
            "The jsonl benchmark needs --data FILE (with --question-field and --answer-field "
            "when they are not 'question' and 'answer')."
        )
    return options


def _source_name(source: Any, model: str | None, predictions: Path | None) -> str:
    """What a new run is named after (``<benchmark>-<this>``): the predictions file's stem,
    else the model's name (an endpoint's model name, a model folder's name), the function's
    name for a ``python:MODULE:FUNCTION`` spec."""
    if predictions is not None:
        return predictions.stem
    name = str(getattr(source, "name", "") or "")
    if model is not None and model.strip().lower().startswith("python:"):
        name = name.rsplit(":", 1)[-1]
    return name.strip() or "model"


def _report(result: EvaluationResult, run_id: str, as_json: bool) -> None:
    config = result.config
    if as_json:
        doc: dict[str, Any] = {
            "benchmark": result.benchmark,
            "split": result.split,
            "n": result.n,
            "metrics": dict(result.metrics),
            "run_id": run_id,
            "timing": result.timing.to_dict(),
        }
        if config.get("missing"):
            doc["missing"] = config["missing"]
        if result.slices:
            doc["slices"] = {
                f: {v: dict(m) for v, m in s.items()} for f, s in result.slices.items()
            }
        print_json(doc)
        return
    out = Output()
    out.heading(f"{result.benchmark} ({result.split}, n={result.n})")
    out.table(
        [Column("metric"), Column("value", "right")],
        [[key, fmt_number(value)] for key, value in result.metrics.items()],
    )
    for field, values in result.slices.items():
        out.heading(f"by {field}")
        names = list(next(iter(values.values())))
        out.table(
            [Column(field)] + [Column(n, "right") for n in names],
            [[value] + [fmt_number(m.get(n)) for n in names] for value, m in values.items()],
        )
    out.line()
    fields = [
        ("model", str(config.get("model", "-"))),
        ("time", f"{fmt_duration(result.timing.total)} ({result.timing.throughput:.0f} samples/s)"),
        ("run", run_id),
    ]
    if config.get("missing"):
        fields.insert(
            1, ("missing", f"{config['missing']} examples had no prediction (--allow-missing)")
        )
    out.fields(fields)


def benchmarks(
    ctx: typer.Context,
    as_json: JsonOption = False,
) -> None:
    """List the registered benchmarks: name, description, splits and their sizes.

    Built-in ones, those of installed plugins (entry-point group trialbook.benchmarks).
    """
    from trialbook.evaluation import BenchmarkRegistry

    infos = [BenchmarkRegistry.info(n) for n in BenchmarkRegistry.list()]
    if as_json:
        print_json([i.to_dict() for i in infos])
        return
    out = Output()
    rows = []
    for info in infos:
        sizes = ", ".join(
            f"{split} {'-' if size is None else f'{size:,}'}" for split, size in info.sizes.items()
        )
        rows.append([info.name, sizes or "-", info.source, info.description])
    out.table(
        [
            Column("name"),
            Column("splits"),
            Column("source"),
            Column("description", overflow="ellipsis", min_width=20),
        ],
        rows,
    )
