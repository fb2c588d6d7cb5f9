"""The typed config of the arithmetic example (seed 003's YAML fields, checked before any run).

Every entrypoint of the example declares :class:`ArithmeticConfig` as the type of its first
parameter, so ``trialbook run`` validates each planned config before anything starts: a bad
value (``model.hidden_dim=30`` with 4 heads, ``task: algebra``) is one sentence and exit
status 2. The module imports pydantic only (no torch), so that check stays quick.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

OPERATIONS = ("+", "-", "*", "/")
UNIT_TYPES = ("length", "mass", "time", "temperature", "velocity")
FORMAT_VERSION = 1  # of the data folders' manifest.json
MAX_LEN = 160  # tokens a model reads: <bos>, the input, <sep> and (token-only) the answer
MAX_OPS = 4  # the hybrid's loss sums over 4^max_ops role assignments per training expression


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Section):
    """What to generate: sizes, value ranges and which tasks; ``seed`` fixes the data."""

    seed: int = 42
    train_size: int = Field(default=1000, ge=1)
    test_size: int = Field(default=200, ge=1)
    # arithmetic
    id_range: tuple[int, int] = (0, 99)
    ood_magnitude_range: tuple[float, float] = (10000, 99999)
    max_ops: int = Field(default=2, ge=1)
    ood_max_ops: int = Field(default=5, ge=1)
    operations: list[str] = Field(default_factory=lambda: ["+", "-", "*"])
    # units
    unit_types: list[str] = Field(default_factory=lambda: list(UNIT_TYPES))
    value_range: tuple[float, float] = (1, 1000)
    include_can_add: bool = True

    @field_validator("operations", "unit_types")
    @classmethod
    def _known_names(cls, value: list[str], info: ValidationInfo) -> list[str]:
        allowed = OPERATIONS if info.field_name == "operations" else UNIT_TYPES
        if not value or any(name not in allowed for name in value):
            raise ValueError(
                f"{info.field_name} must be a non-empty list of {', '.join(allowed)}; got {value}"
            )
        return value

    @field_validator("max_ops")
    @classmethod
    def _few_ops(cls, value: int) -> int:
        if value > MAX_OPS:
            raise ValueError(
                f"max_ops is at most {MAX_OPS}, because the hybrid's loss sums over "
                f"4^max_ops role assignments per training expression; set data.max_ops to 1 to "
                f"{MAX_OPS} (longer expressions belong in test_ood_length, data.ood_max_ops)"
            )
        return value

    @model_validator(mode="after")
    def _ordered_ranges(self) -> DataConfig:
        for name in ("id_range", "ood_magnitude_range", "value_range"):
            low, high = getattr(self, name)
            if low > high or low < 0:
                raise ValueError(
                    f"{name} must be [low, high] with 0 <= low <= high; got {[low, high]}"
                )
        if self.ood_magnitude_range[0] <= self.id_range[1]:
            raise ValueError(
                f"ood_magnitude_range {list(self.ood_magnitude_range)} must start above "
                f"id_range {list(self.id_range)} to be out of distribution"
            )
        if self.ood_max_ops <= self.max_ops:
            raise ValueError(
                f"ood_max_ops ({self.ood_max_ops}) must be larger than max_ops ({self.max_ops})"
            )
        # The longest input must fit the models' MAX_LEN tokens (as characters for the
        # token-only model), or their positions would run out.
        for n_ops, high, fix in (
            (self.ood_max_ops + 2, self.id_range[1], "data.ood_max_ops"),
            (self.max_ops, self.ood_magnitude_range[1], "data.ood_magnitude_range"),
        ):
            longest = (n_ops + 1) * len(str(int(high))) + n_ops
            if longest + 2 > MAX_LEN:
                raise ValueError(
                    f"the longest expression of these settings has {longest} characters, more "
                    f"than the models read ({MAX_LEN - 2}); lower {fix}"
                )
        return self


class ModelConfig(_Section):
    """The transformer both models share (the hybrid's router is this transformer)."""

    hidden_dim: int = Field(default=128, ge=8)
    num_layers: int = Field(default=2, ge=1)
    num_heads: int = Field(default=4, ge=1)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> ModelConfig:
        if self.hidden_dim % self.num_heads:
            raise ValueError(
                f"hidden_dim {self.hidden_dim} is not divisible by num_heads {self.num_heads}; "
                "pick a hidden_dim that is a multiple of num_heads"
            )
        return self


class TrainingConfig(_Section):
    epochs: int = Field(default=20, ge=1)
    batch_size: int = Field(default=32, ge=1)
    learning_rate: float = Field(default=1e-3, gt=0)
    threads: int = Field(default=1, ge=1)  # torch threads per run: runs go in parallel with --jobs


class PathsConfig(_Section):
    """Folders, relative to the folder `trialbook run` is started from (the repo root)."""

    data_dir: str
    results_dir: str


def data_manifest(task: str, data: DataConfig) -> dict[str, Any]:
    """What a data folder's manifest.json records of the settings that made it."""
    return {"format": FORMAT_VERSION, "task": task, "data": data.model_dump(mode="json")}


def data_folder_problem(task: str, data: DataConfig, folder: Path) -> str | None:
    """Why ``folder`` cannot serve this config's data (it holds data made with other
    settings), or None when it holds this data or none at all."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return None
    try:
        found = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        found = None
    if not isinstance(found, dict):
        return (
            f"paths.data_dir {str(folder)!r} holds an unreadable manifest.json; set "
            "paths.data_dir to another folder, or delete that one to regenerate it"
        )
    expected = data_manifest(task, data)
    if {k: found.get(k) for k in expected} == expected:
        return None
    recorded = found.get("data")
    old: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
    changed = sorted(
        k for k in set(old) | set(expected["data"]) if old.get(k) != expected["data"].get(k)
    )
    what = ", ".join("data." + k for k in changed) if changed else "task or format"
    return (
        f"paths.data_dir {str(folder)!r} holds {found.get('task')} data generated with other "
        f"settings ({what} differ); set paths.data_dir (--data-dir) to another folder, or "
        "delete that one to regenerate it"
    )


def result_settings(
    task: str, data: DataConfig, model: ModelConfig, training: TrainingConfig
) -> dict[str, Any]:
    """The settings a results file records: everything that changes the numbers (not the
    thread count), so that results of other settings never share a merged file."""
    return {
        "task": task,
        "data": data.model_dump(mode="json"),
        "model": model.model_dump(mode="json"),
        "training": training.model_dump(mode="json", exclude={"threads"}),
    }


def results_folder_problem(expected: dict[str, Any], folder: Path) -> str | None:
    """Why ``folder`` cannot take this config's results (a results file there records other
    settings), or None."""
    for path in sorted(folder.glob("*/seed_*/evaluation_results.json")):
        try:
            found = json.loads(path.read_text(encoding="utf-8")).get("settings")
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(found, dict) or found == expected:
            continue
        changed = []
        for section, want in expected.items():
            got = found.get(section)
            if not isinstance(want, dict):
                changed += [section] if got != want else []
                continue
            got = got if isinstance(got, dict) else {}
            changed += [
                f"{section}.{k}" for k in sorted(set(want) | set(got)) if got.get(k) != want.get(k)
            ]
        return (
            f"paths.results_dir {str(folder)!r} holds results of other settings "
            f"({', '.join(changed) or 'settings'} differ, in {path.parent.parent.name}/"
            f"{path.parent.name}); set paths.results_dir (--results-dir) to another folder, or "
            "delete that one"
        )
    return None


class ArithmeticConfig(_Section):
    """One config of the example: ``task`` picks the data (arithmetic or units)."""

    task: Literal["arithmetic", "units"]
    seed: int | None = None
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig())
    paths: PathsConfig

    @field_validator("paths")
    @classmethod
    def _data_folder_fits(cls, value: PathsConfig, info: ValidationInfo) -> PathsConfig:
        # Checked here, so `trialbook run` refuses before any run starts (a data folder of
        # other settings would otherwise be a failed run); ensure_data checks again.
        task, data = info.data.get("task"), info.data.get("data")
        model, training = info.data.get("model"), info.data.get("training")
        if task is None or data is None or model is None or training is None:
            return value
        problem = data_folder_problem(task, data, Path(value.data_dir))
        problem = problem or results_folder_problem(
            result_settings(task, data, model, training), Path(value.results_dir)
        )
        if problem:
            raise ValueError(problem)
        return value
