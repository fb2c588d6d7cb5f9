"""The CLINC150 example's entrypoint: a fastText-style classifier trained as one trialbook run.

``trialbook run examples/cartography/cartography.yaml`` (the cartography step) and every
experiment of ``examples/cartography/suite.yaml`` call ``train(config, run)``. It

1. loads CLINC150 Full (oos-train scheme: ``oos`` is a 151st class), optionally a subset
   (``data.max_intents``, ``training.max_train_samples``) and optionally with
   ``data.label_noise`` of the training labels flipped on purpose (seeded by ``data.noise_seed``);
2. applies the data strategies of ``training`` (``trialbook.cartography.apply_strategies``):
   filtering, per-example label smoothing and per-example loss weights;
3. trains, logging ``train/loss`` and the validation scores per epoch; with
   ``cartography.record_dynamics`` it records every training example's gold-label probability
   each epoch (``DynamicsRecorder``), saves it in the run folder (the data map of
   ``trialbook report``) and in ``cartography.output_dir``, with the examples' sentence
   embeddings (the model's averaged embedding) for the cluster step;
4. evaluates on the test split: in-scope accuracy, macro F1 over the 150 in-scope intents,
   out-of-scope recall, overall accuracy; one result per test query (id, correct, intent).

The config is typed (:class:`ClincConfig`), so ``trialbook run`` checks every planned config,
including that the files a strategy needs exist, before anything runs.
"""

from __future__ import annotations

import functools
import json
import shlex
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trialbook.config import TrainingConfig

BENCHMARK = "clinc150"
#: The cartography step and the cluster step, as the errors name them (run from the repo root).
CARTOGRAPHY_COMMAND = "trialbook run examples/cartography/cartography.yaml"
CLUSTERS_COMMAND = "python -m examples.cartography.clusters"
EMBEDDINGS_FILE = "embeddings.npz"
DEFAULT_OUTPUT = "experiments/cartography_output/clinc150"
FLIPPED_FILE = "flipped_ids.json"

_STRICT = ConfigDict(extra="forbid")


class DataConfig(BaseModel):
    model_config = _STRICT

    path: str | None = Field(default=None, description="data_full.json; the shipped copy if null")
    max_intents: int | None = Field(default=None, gt=0, description="keep the first N intents")
    label_noise: float = Field(
        default=0.0, ge=0, lt=1, description="fraction of train labels flipped"
    )
    noise_seed: int = 0
    subset_seed: int = Field(default=0, description="picks --max-train/eval-samples examples")

    @field_validator("path")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        # Checked here so a wrong path is refused before any run starts, not a failed run.
        if value is not None:
            file = Path(value)
            problem = _data_problem(value, file.stat().st_mtime if file.is_file() else 0.0)
            if problem:
                raise ValueError(problem)
        return value


class ModelConfig(BaseModel):
    model_config = _STRICT

    dim: int = Field(default=100, gt=0)
    buckets: int = Field(default=131072, gt=0, description="hash buckets for word n-grams")
    word_ngrams: int = Field(default=2, ge=1)
    min_count: int = Field(default=1, ge=1)
    optimizer: Literal["adam", "sgd"] = Field(
        default="adam", description="adam (sparse Adam), or sgd as fastText trains"
    )


class CartographyConfig(BaseModel):
    model_config = _STRICT

    record_dynamics: bool = False
    output_dir: str | None = Field(default=None, description="where the cartography step writes")
    # How the data map is split into regions (the filter and the noise check).
    ambiguous_fraction: float | None = Field(default=None, gt=0, le=1)
    variability_threshold: float = 0.2
    confidence_threshold: float = 0.5

    @model_validator(mode="after")
    def _output_when_recording(self) -> CartographyConfig:
        if self.record_dynamics and not self.output_dir:
            raise ValueError(
                "cartography.output_dir is required when record_dynamics is true; set it to "
                "the folder the strategies' cartography_output_dir will name"
            )
        return self


class ClincConfig(BaseModel):
    """Everything ``train`` reads; unknown keys are errors."""

    model_config = _STRICT

    seed: int | None = None
    threads: int = Field(default=1, ge=1, description="torch threads (1 when runs go in parallel)")
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    cartography: CartographyConfig = Field(default_factory=CartographyConfig)

    @model_validator(mode="after")
    def _inputs_exist(self) -> ClincConfig:
        # Checked here, so `trialbook run` refuses the plan before any run starts (its preflight
        # validates every config) instead of a run failing with a traceback.
        missing_inputs(self)
        return self


def missing_inputs(config: ClincConfig) -> None:
    """Raise seed 001's troubleshooting errors, each naming the command that makes the file.

    The error is a pydantic ValidationError located at the path field, so trialbook's message
    reads ``training.cartography_filter.cartography_output_dir: got '<dir>'; ...``.
    """
    from pydantic import ValidationError
    from pydantic_core import InitErrorDetails, PydanticCustomError

    from trialbook.cartography import CLUSTERS_FILE, DYNAMICS_FILE

    t = config.training

    def fail(loc: tuple[str, ...], value: str, message: str) -> None:
        error = PydanticCustomError("missing_input", message)
        raise ValidationError.from_exception_data(
            "ClincConfig", [InitErrorDetails(type=error, loc=loc, input=value)]
        )

    for strategy in ("cartography_filter", "label_smoothing", "soft_weighting"):
        section = getattr(t, strategy)
        if section.enabled:
            folder = Path(section.cartography_output_dir or "")
            path = folder if folder.is_file() else folder / DYNAMICS_FILE
            if not path.is_file():
                fail(
                    ("training", strategy, "cartography_output_dir"),
                    str(section.cartography_output_dir),
                    f"Cartography metrics not found there (no {DYNAMICS_FILE}); run the "
                    f"cartography step first: `{cartography_command(config, folder)}`",
                )
            absent = _train_ids(config) - _recorded_ids(str(path), path.stat().st_mtime, "jsonl")
            if absent:
                command = cartography_command(config, folder)
                fail(
                    ("training", strategy, "cartography_output_dir"),
                    str(section.cartography_output_dir),
                    f"its {DYNAMICS_FILE} lacks {len(absent)} of this run's training examples "
                    f"(e.g. {min(absent)!r}): it was recorded on other data; run the "
                    f"cartography step with this run's data: `{command}`",
                )
    if t.cluster_filter.enabled:
        target = Path(t.cluster_filter.cluster_assignments_path or "")
        if not (target.is_file() or (target / CLUSTERS_FILE).is_file()):
            folder = target.parent if target.suffix == ".csv" else target
            first = ""
            if not (folder / EMBEDDINGS_FILE).is_file():
                first = f"`{cartography_command(config, folder)}`, then "
            fail(
                ("training", "cluster_filter", "cluster_assignments_path"),
                str(t.cluster_filter.cluster_assignments_path),
                f"Cluster assignments not found there (no {CLUSTERS_FILE}); compute them "
                f"first: {first}`{CLUSTERS_COMMAND} {shlex.quote(folder.as_posix())}`",
            )
        path = target if target.is_file() else target / CLUSTERS_FILE
        absent = _train_ids(config) - _recorded_ids(str(path), path.stat().st_mtime, "csv")
        if absent:
            folder = target.parent if target.suffix == ".csv" else target
            fail(
                ("training", "cluster_filter", "cluster_assignments_path"),
                str(t.cluster_filter.cluster_assignments_path),
                f"its {CLUSTERS_FILE} lacks {len(absent)} of this run's training examples (e.g. "
                f"{min(absent)!r}): it was computed on other data; run the cartography step "
                f"with this run's data, then the cluster step: "
                f"`{cartography_command(config, folder)}`, then "
                f"`{CLUSTERS_COMMAND} {shlex.quote(folder.as_posix())}`",
            )


@functools.lru_cache(maxsize=8)
def _data_problem(path: str, mtime: float) -> str | None:
    """Why ``path`` is not a CLINC150 data_full.json, or None (``mtime`` keys the cache)."""
    if not Path(path).is_file():
        return (
            f"there is no such file (relative to {Path.cwd()}); give the path of a CLINC150 "
            "data_full.json, or null for the shipped copy"
        )
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return f"it cannot be read as JSON ({e}); give the path of a CLINC150 data_full.json"
    parts = ("train", "val", "test", "oos_train", "oos_val", "oos_test")
    absent = [p for p in parts if not isinstance(raw, dict) or not isinstance(raw.get(p), list)]
    if absent:
        return (
            f"it has no {', '.join(absent)} list; CLINC150's data_full.json has the lists "
            f"{', '.join(parts)} of [text, intent] pairs"
        )
    bad = next(
        (
            (p, n)
            for p in parts
            for n, item in enumerate(raw[p])
            if not (
                isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
            )
        ),
        None,
    )
    if bad is not None:
        return f"its item {bad[0]}[{bad[1]}] is not a [text, intent] pair of strings"
    return None


def _train_ids(config: ClincConfig) -> frozenset[str]:
    return _train_ids_of(
        config.data.path,
        config.data.max_intents,
        config.training.max_train_samples,
        config.data.subset_seed,
    )


# Cached: `trialbook run` validates every planned config in one process (its preflight).
@functools.lru_cache(maxsize=8)
def _train_ids_of(
    path: str | None, max_intents: int | None, max_train_samples: int | None, seed: int
) -> frozenset[str]:
    from examples.cartography import clinc

    train = clinc.load_clinc(path, max_intents=max_intents)["train"]
    return frozenset(clinc.subsample(train, max_train_samples, seed).ids)


@functools.lru_cache(maxsize=8)
def _recorded_ids(path: str, mtime: float, kind: str) -> frozenset[str]:
    """The example ids in a training_dynamics.jsonl or cluster_assignments.csv (``mtime``
    is part of the cache key, so a rewritten file is read again)."""
    import csv

    with open(path, encoding="utf-8", newline="") as f:
        if kind == "csv":
            return frozenset(row["id"] for row in csv.DictReader(f))
        return frozenset(str(json.loads(line)["id"]) for line in f if line.strip())


def cartography_command(config: ClincConfig, folder: Path) -> str:
    """The exact cartography-step command that writes ``folder`` for this config's data."""
    parts = [CARTOGRAPHY_COMMAND, "--suite", "clean"]
    if config.data.max_intents is not None:
        parts += ["--max-intents", str(config.data.max_intents)]
    if config.training.max_train_samples is not None:
        parts += ["--max-train-samples", str(config.training.max_train_samples)]
    if folder.as_posix() != DEFAULT_OUTPUT:
        parts.append(f"cartography.output_dir={shlex.quote(folder.as_posix())}")
    return " ".join(parts)


def _strategies(config: ClincConfig, train_ids: list[str]) -> Any:
    """The Selection of the enabled strategies over exactly this run's training examples."""
    from trialbook.cartography import apply_strategies, load_clusters, load_metrics
    from trialbook.errors import ConfigError

    t = config.training
    dirs = [
        s.cartography_output_dir
        for s in (t.cartography_filter, t.label_smoothing, t.soft_weighting)
        if s.enabled
    ]
    clusters = (
        load_clusters(t.cluster_filter.cluster_assignments_path)
        if t.cluster_filter.enabled
        else None
    )
    metrics = load_metrics(dirs[0]) if dirs else None
    wanted = set(train_ids)
    for what, table in (("cartography metrics", metrics), ("cluster assignments", clusters)):
        if table is None:
            continue
        have = set(table["id"].astype(str))
        absent = wanted - have
        if absent:
            raise ConfigError(
                f"{len(absent)} of this run's {len(wanted)} training examples (e.g. "
                f"{sorted(absent)[0]!r}) have no {what}; run the cartography step "
                f"({CARTOGRAPHY_COMMAND}) with the same data settings "
                "(data.max_intents, --max-train-samples) as this run."
            )
    if metrics is not None:
        # Only this run's examples: top_fraction and the mean variability are over them.
        metrics = metrics[metrics["id"].astype(str).isin(wanted)].reset_index(drop=True)
    if clusters is not None:
        clusters = clusters[clusters["id"].astype(str).isin(wanted)].reset_index(drop=True)
    if metrics is None and clusters is None:
        return None
    c = config.cartography
    return apply_strategies(
        t,
        metrics,
        clusters,
        variability_threshold=c.variability_threshold,
        confidence_threshold=c.confidence_threshold,
        ambiguous_fraction=c.ambiguous_fraction,
    )


def train(config: ClincConfig, run: Any) -> dict[str, float]:
    """Train and evaluate one model; log its curves, its evaluation and (optionally) its
    training dynamics; return the test scores."""
    import numpy as np
    import torch
    from examples.cartography import clinc

    from trialbook.cartography import DynamicsRecorder

    torch.set_num_threads(config.threads)
    seed = config.seed if config.seed is not None else 0
    torch.manual_seed(seed)
    t, d = config.training, config.data

    splits = clinc.load_clinc(d.path, max_intents=d.max_intents)
    classes = sorted(set(splits["train"].labels))
    class_index = {c: i for i, c in enumerate(classes)}
    train_split = clinc.subsample(splits["train"], t.max_train_samples, d.subset_seed)
    val = splits["val"]
    test = clinc.subsample(splits["test"], t.max_eval_samples, d.subset_seed)
    flipped = clinc.flip_labels(train_split, d.label_noise, classes, d.noise_seed)

    selection = _strategies(config, train_split.ids)
    smoothing = weights = None
    if selection is not None:
        position = {i: n for n, i in enumerate(train_split.ids)}
        kept = [position[i] for i in selection.ids]
        train_split = train_split.take(kept)
        smoothing = np.array([selection.smoothing[i] for i in train_split.ids])
        weights = np.array([selection.weights[i] for i in train_split.ids])
    run.log_params(
        {
            "train_examples": len(train_split),
            "dropped_examples": 0 if selection is None else len(selection.dropped),
            "classes": len(classes),
            "flipped_labels": len(flipped),
        }
    )

    featurizer = clinc.Featurizer(
        train_split.texts,
        buckets=config.model.buckets,
        word_ngrams=config.model.word_ngrams,
        min_count=config.model.min_count,
    )
    encoded = clinc.Encoded(featurizer, train_split.texts)
    encoded_val = clinc.Encoded(featurizer, val.texts)
    targets = np.array([class_index[label] for label in train_split.labels])
    model = clinc.make_model(featurizer.size, config.model.dim, len(classes))
    recorder = DynamicsRecorder(run=run) if config.cartography.record_dynamics else None
    epochs = max(1, round(t.num_train_epochs))
    steps_per_epoch = max(1, -(-len(train_split) // t.per_device_train_batch_size))

    def on_step(step: int, loss: float) -> None:
        if step % 50 == 0:
            run.log({"train/loss": loss}, step=step)

    def on_epoch(epoch: int) -> None:
        step = (epoch + 1) * steps_per_epoch
        probs, _ = clinc.predict(model, encoded_val)
        val_scores = clinc.scores(val.labels, [classes[i] for i in probs.argmax(1)])
        run.log({f"val/{k}": v for k, v in val_scores.items()}, step=step)
        if recorder is not None:
            train_probs, _ = clinc.predict(model, encoded)
            gold = train_probs[np.arange(len(targets)), targets]
            recorder.record(epoch, train_split.ids, gold, train_probs.argmax(1) == targets)

    started = time.monotonic()
    clinc.fit(
        model,
        encoded,
        targets,
        epochs=epochs,
        learning_rate=t.learning_rate,
        batch_size=t.per_device_train_batch_size,
        seed=seed,
        smoothing=smoothing,
        weights=weights,
        on_epoch=on_epoch,
        on_step=on_step,
        optimizer=config.model.optimizer,
    )
    train_seconds = time.monotonic() - started

    result: dict[str, float] = {"train_seconds": train_seconds}
    if recorder is not None:
        result.update(_save_cartography(config, recorder, model, encoded, train_split.ids, flipped))

    probs, _ = clinc.predict(model, clinc.Encoded(featurizer, test.texts))
    predicted = [classes[i] for i in probs.argmax(1)]
    test_scores = clinc.scores(test.labels, predicted)
    samples = [
        {
            "id": i,
            "input": text,
            "prediction": p,
            "reference": gold,
            "correct": p == gold,
            "intent": gold,  # a slice field: per-intent accuracy, oos among them
        }
        for i, text, gold, p in zip(test.ids, test.texts, test.labels, predicted, strict=True)
    ]
    run.log_evaluation(BENCHMARK, {"metrics": test_scores, "samples": samples})
    result.update({f"test_{k}": v for k, v in test_scores.items()})
    return result


def _save_cartography(
    config: ClincConfig,
    recorder: Any,
    model: Any,
    encoded: Any,
    ids: list[str],
    flipped: set[str],
) -> dict[str, float]:
    """Save the dynamics (run folder and output_dir), the sentence embeddings for the cluster
    step and, with flipped labels, how well the hard-to-learn region finds them."""
    import numpy as np
    from examples.cartography import clinc

    from trialbook.cartography import DYNAMICS_FILE, assign_regions, cartography_metrics

    out = Path(str(config.cartography.output_dir))
    out.mkdir(parents=True, exist_ok=True)
    saved = recorder.save()  # in the run folder, so `trialbook report` draws its data map
    shutil.copyfile(saved, out / DYNAMICS_FILE)
    _, embeddings = clinc.predict(model, encoded)
    np.savez_compressed(out / EMBEDDINGS_FILE, ids=np.array(ids), embeddings=embeddings)
    (out / FLIPPED_FILE).write_text(json.dumps(sorted(flipped)) + "\n", encoding="utf-8")
    if not flipped:
        return {}
    c = config.cartography
    metrics = cartography_metrics(recorder)
    region = assign_regions(
        metrics,
        variability_threshold=c.variability_threshold,
        confidence_threshold=c.confidence_threshold,
        ambiguous_fraction=c.ambiguous_fraction,
    ).to_numpy()
    return noise_scores(metrics["id"].astype(str).tolist(), region, flipped)


def noise_scores(ids: list[str], region: Any, flipped: set[str]) -> dict[str, float]:
    """Precision and recall of the hard-to-learn region as a detector of flipped labels, and
    the share of the data it holds (the precision a random pick of that size would have is the
    noise rate)."""
    import numpy as np

    hard = np.asarray(region) == "hard-to-learn"
    is_flipped = np.array([i in flipped for i in ids])
    caught = float((hard & is_flipped).sum())
    return {
        "noise/hard_precision": caught / hard.sum() if hard.any() else 0.0,
        "noise/hard_recall": caught / is_flipped.sum() if is_flipped.any() else 0.0,
        "noise/hard_fraction": float(hard.mean()),
        "noise/flipped_fraction": float(is_flipped.mean()),
    }
