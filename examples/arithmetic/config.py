"""The typed config of the arithmetic example (seed 003's YAML fields, checked before any run).

Every entrypoint of the example declares :class:`ArithmeticConfig` as the type of its first
parameter, so ``trialbook run`` validates each planned config before anything starts: a bad
value (``model.hidden_dim=30`` with 4 heads, ``task: algebra``) is one sentence and exit
status 2. The module imports pydantic only (no torch), so that check stays quick.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

OPERATIONS = ("+", "-", "*", "/")
UNIT_TYPES = ("length", "mass", "time", "temperature", "velocity")


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
    max_ops: int = Field(default=2, ge=1, le=4)  # the hybrid sums over 4^max_ops parses per example
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


class ArithmeticConfig(_Section):
    """One config of the example: ``task`` picks the data (arithmetic or units)."""

    task: Literal["arithmetic", "units"]
    seed: int | None = None
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    model: ModelConfig = Field(default_factory=lambda: ModelConfig())
    training: TrainingConfig = Field(default_factory=lambda: TrainingConfig())
    paths: PathsConfig
