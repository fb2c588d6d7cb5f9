"""``trialbook evaluate`` (score a model or saved predictions on a benchmark and record it
under a run) and ``trialbook benchmarks`` (what is registered)."""

from __future__ import annotations

import contextlib
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
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    from trialbook.evaluation import RecordedEvaluation

__all__ = ["benchmarks", "evaluate"]

_SOURCE = "Model or predictions"
_RECORD = "Where the result is recorded"
_BENCH = "Benchmark options"


def _option(*names: str, metavar: str | None = None, panel: str, help: str, **kw: Any) -> Any:
    return typer.Option(*names, metavar=metavar, help=help, rich_help_panel=panel, **kw)


_Benchmark = Annotated[
    str,
    typer.Argument(
        metavar="BENCHMARK",
        help="A registered benchmark (see `trialbook benchmarks`): gsm8k, jsonl, ...",
    ),
]
_Model = Annotated[
    str | None,
    _option(
        "--model",
        metavar="SPEC",
        panel=_SOURCE,
        help="The model: hf:PATH, openai:URL?model=NAME or python:MODULE:FUNCTION.",
    ),
]
_Predictions = Annotated[
    Path | None,
    _option(
        "--predictions",
        metavar="FILE",
        panel=_SOURCE,
        help="Saved outputs instead of a model: JSONL lines with 'prediction' and "
        "'id', 'index' or 'question'.",
    ),
]
_AllowMissing = Annotated[
    bool,
    _option(
        "--allow-missing",
        panel=_SOURCE,
        help="With --predictions: score only the examples the file covers.",
    ),
]
_BatchSize = Annotated[
    int | None,
    _option(
        "--batch-size",
        metavar="N",
        parser=int64(),
        panel=_SOURCE,
        help="Prompts per model call (default: the model's own).",
    ),
]
_Split = Annotated[str, _option("--split", metavar="S", panel=_BENCH, help="Dataset split.")]
_NumSamples = Annotated[
    int | None,
    _option(
        "--num-samples",
        "-n",
        metavar="N",
        parser=int64(),
        panel=_BENCH,
        help="Evaluate only the first N examples.",
    ),
]
_Extraction = Annotated[
    str | None,
    _option(
        "--extraction",
        metavar="strict|flexible",
        panel=_BENCH,
        help="GSM8K: how accuracy reads the answer (default strict: the '#### N' line).",
    ),
]
_Shots = Annotated[
    int | None,
    _option(
        "--shots",
        metavar="0|8",
        parser=int64(),
        panel=_BENCH,
        help="GSM8K: 0 or 8 chain-of-thought examples in the prompt (default 0).",
    ),
]
_Data = Annotated[
    Path | None,
    _option("--data", metavar="FILE", panel=_BENCH, help="jsonl: the JSONL file to evaluate on."),
]
_QuestionField = Annotated[
    str | None,
    _option(
        "--question-field",
        metavar="NAME",
        panel=_BENCH,
        help="jsonl: the field with the question (default question).",
    ),
]
_AnswerField = Annotated[
    str | None,
    _option(
        "--answer-field",
        metavar="NAME",
        panel=_BENCH,
        help="jsonl: the field with the answer (default answer).",
    ),
]
_IdField = Annotated[
    str | None,
    _option(
        "--id-field",
        metavar="NAME",
        panel=_BENCH,
        help="jsonl: the field with each example's id (default: its position).",
    ),
]
_Name = Annotated[
    str | None,
    _option(
        "--name",
        metavar="NAME",
        panel=_BENCH,
        help="jsonl: the evaluation's name (default: the file's stem).",
    ),
]
_SliceBy = Annotated[
    list[str] | None,
    _option(
        "--slice-by",
        metavar="FIELD",
        panel=_BENCH,
        help="jsonl: also report the metrics per value of this field (repeatable).",
    ),
]
_Run = Annotated[
    str | None,
    _option(
        "--run",
        metavar="RUN",
        panel=_RECORD,
        help="Add the evaluation to this run (id, prefix, short id or name; it may be finished).",
    ),
]
_Experiment = Annotated[
    str | None,
    _option(
        "--experiment",
        metavar="NAME",
        panel=_RECORD,
        help="Record it as a new run of this experiment (default evaluate).",
    ),
]


def evaluate(
    ctx: typer.Context,
    benchmark: _Benchmark,
    model: _Model = None,
    predictions: _Predictions = None,
    allow_missing: _AllowMissing = False,
    batch_size: _BatchSize = None,
    split: _Split = "test",
    num_samples: _NumSamples = None,
    extraction: _Extraction = None,
    shots: _Shots = None,
    data: _Data = None,
    question_field: _QuestionField = None,
    answer_field: _AnswerField = None,
    id_field: _IdField = None,
    name: _Name = None,
    slice_by: _SliceBy = None,
    run: _Run = None,
    experiment: _Experiment = None,
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
    if run is not None and experiment is not None:
        raise ConfigError(
            "Give --run RUN (add to an existing run) or --experiment NAME (a new run), not both.",
            parameter="experiment",
            value=experiment,
        )
    source = _source(model, predictions, allow_missing)
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
    from trialbook.evaluation import EvaluationNotRecorded, evaluate_and_record

    ws = workspace(ctx, root, store)
    # With --json, stdout carries the one JSON object: whatever the model prints goes to
    # stderr while it loads and runs.
    quiet = contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext()
    with quiet:
        try:
            recorded = evaluate_and_record(
                benchmark, source, split=split, num_samples=num_samples,
                batch_size=batch_size, run=run, experiment=experiment, root=ws.root,
                store_url=ws.store_url, **options,
            )  # fmt: skip
        except EvaluationNotRecorded as e:
            # A full disk: the handler in _app.py says so; this says what was kept.
            raise PartialWrite(e.kept) from e.__cause__
    if as_json:
        print_json(recorded.to_dict())
    else:
        _render(recorded)


def _source(model: str | None, predictions: Path | None, allow_missing: bool) -> Any:
    """The model spec, or the predictions file, named on the command line."""
    if (model is None) == (predictions is None):
        raise ConfigError(
            "Give exactly one of --model SPEC (a model to run) or --predictions FILE (saved "
            "outputs)."
        )
    if predictions is None:
        if allow_missing:
            raise ConfigError(
                "--allow-missing applies to --predictions FILE; drop it with --model."
            )
        return model
    from trialbook.evaluation import PredictionsFile

    return PredictionsFile(predictions, allow_missing=allow_missing)


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


def _render(recorded: RecordedEvaluation) -> None:
    result, config = recorded.result, recorded.result.config
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
        ("run", recorded.run_id),
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
