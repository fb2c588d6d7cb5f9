"""Typed experiment configs in Python: ``ExperimentConfig`` with a ``TrainingConfig`` inside.

For researchers who build experiments in code rather than YAML (the experiment-system guide's
API). An :class:`ExperimentConfig` turns into an ordinary trialbook config (``to_config``), so
whatever runs YAML configs runs these too, with the same hashes, seed groups and resume.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trialbook.errors import ConfigError

__all__ = [
    "CartographyFilterConfig",
    "ClusterFilterConfig",
    "ExperimentConfig",
    "LabelSmoothingConfig",
    "SoftWeightingConfig",
    "TrainingConfig",
]

_BLOCK_FIELDS = ("name", "description", "hypothesis", "tags", "entrypoint", "command")
_STRICT = ConfigDict(extra="forbid", validate_assignment=True)


class _Strategy(BaseModel):
    """A data strategy that is off unless ``enabled``."""

    model_config = _STRICT

    enabled: bool = False


class _NeedsCartography(_Strategy):
    cartography_output_dir: str | None = Field(
        default=None, description="Folder holding the training-dynamics metrics to use."
    )

    @model_validator(mode="after")
    def _dir_when_enabled(self) -> _NeedsCartography:
        if self.enabled and not self.cartography_output_dir:
            raise ValueError(
                "cartography_output_dir is required when enabled=True; point it at the folder "
                "with the cartography metrics of an earlier training run"
            )
        return self


class CartographyFilterConfig(_NeedsCartography):
    """Keep the most ambiguous ``top_fraction`` of examples, plus the easy-to-learn and
    hard-to-learn regions unless ``include_easy`` / ``include_hard`` say otherwise."""

    top_fraction: float = Field(default=0.33, gt=0, le=1)
    include_easy: bool = Field(default=True, description="Also keep the easy-to-learn region.")
    include_hard: bool = Field(default=True, description="Also keep the hard-to-learn region.")
    ambiguous_fraction: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Regions by quantile: the most variable fraction is ambiguous (instead of "
        "the fixed variability cut-off 0.2, which suits few classes).",
    )


class ClusterFilterConfig(_Strategy):
    """Drop examples whose cluster is excluded or whose cluster probability is too low."""

    cluster_assignments_path: str | None = None
    exclude_clusters: list[int] = Field(default_factory=lambda: [-1])
    min_cluster_probability: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _path_when_enabled(self) -> ClusterFilterConfig:
        if self.enabled and not self.cluster_assignments_path:
            raise ValueError(
                "cluster_assignments_path is required when enabled=True; point it at the "
                "cluster assignments file"
            )
        return self


class LabelSmoothingConfig(_NeedsCartography):
    """Smooth labels more for examples whose confidence varies more across epochs."""

    smoothing_factor: float = Field(default=0.6, ge=0)


class SoftWeightingConfig(_NeedsCartography):
    """Weight each example's loss by its variability, clipped to a range."""

    weight_clip_min: float = Field(default=0.1, ge=0)
    weight_clip_max: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> SoftWeightingConfig:
        if self.weight_clip_min > self.weight_clip_max:
            raise ValueError(
                f"weight_clip_min ({self.weight_clip_min}) is above weight_clip_max "
                f"({self.weight_clip_max}); swap them"
            )
        return self


class TrainingConfig(BaseModel):
    """Training hyperparameters and the data strategies to apply.

    ``seed`` becomes the run's top-level seed in :meth:`ExperimentConfig.to_config`, so
    ``--seeds`` and seed groups work as for YAML configs.
    """

    model_config = _STRICT

    seed: int = 42
    model_name_or_path: str | None = None
    max_train_samples: int | None = Field(default=None, gt=0)
    max_eval_samples: int | None = Field(default=None, gt=0)
    num_train_epochs: float = Field(default=3.0, gt=0)
    learning_rate: float = Field(default=5e-5, gt=0)
    per_device_train_batch_size: int = Field(default=8, gt=0)
    per_device_eval_batch_size: int = Field(default=8, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    warmup_ratio: float = Field(default=0.0, ge=0, le=1)
    save_total_limit: int | None = Field(default=None, gt=0)
    cartography_filter: CartographyFilterConfig = Field(default_factory=CartographyFilterConfig)
    cluster_filter: ClusterFilterConfig = Field(default_factory=ClusterFilterConfig)
    label_smoothing: LabelSmoothingConfig = Field(default_factory=LabelSmoothingConfig)
    soft_weighting: SoftWeightingConfig = Field(default_factory=SoftWeightingConfig)


class ExperimentConfig(BaseModel):
    """One experiment: a name, what it tests, the code that runs it and its training config.

    Example::

        from trialbook import CartographyFilterConfig, ExperimentConfig, TrainingConfig

        experiment = ExperimentConfig(
            name="cartography_25",
            description="Keep the 25% most ambiguous examples",
            entrypoint="my_project.train:train",
            training=TrainingConfig(
                max_train_samples=5000,
                cartography_filter=CartographyFilterConfig(
                    enabled=True, cartography_output_dir="./cartography_output", top_fraction=0.25
                ),
            ),
        )
        path = experiment.save()              # configs/cartography_25.yaml
        again = ExperimentConfig.load(path)   # equal to experiment
    """

    model_config = _STRICT

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str | None = None
    hypothesis: str | None = None
    tags: list[str] = Field(default_factory=list)
    entrypoint: str | None = Field(
        default=None, description="package.module:function, called as function(config, run)."
    )
    command: str | None = Field(
        default=None, description="A command line; {config} is replaced by the config path."
    )
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    extra: dict[str, Any] = Field(
        default_factory=dict, description="Further top-level sections (model, data, ...)."
    )

    @model_validator(mode="after")
    def _one_way_to_run(self) -> ExperimentConfig:
        if self.entrypoint and self.command:
            raise ValueError("give entrypoint or command, not both")
        reserved = {"experiment", "seed", "training"} & set(self.extra)
        if reserved:
            raise ValueError(
                f"extra may not hold {sorted(reserved)}; use the fields of the same name"
            )
        return self

    # ------------------------------------------------------------------ conversion
    def to_config(self) -> dict[str, Any]:
        """The plain config trialbook runs and saves: ``experiment:`` block, ``seed``, sections."""
        block: dict[str, Any] = {"name": self.name}
        for key in ("description", "hypothesis", "entrypoint", "command"):
            value = getattr(self, key)
            if value is not None:
                block[key] = value
        if self.tags:
            block["tags"] = list(self.tags)
        training = self.training.model_dump(mode="json")
        seed = training.pop("seed")
        return {"experiment": block, "seed": seed, "training": training, **self.extra}

    @classmethod
    def from_config(cls, config: dict[str, Any], source: str | None = None) -> ExperimentConfig:
        """Build one back from a plain config (the inverse of :meth:`to_config`).

        Raises:
            ConfigError: a key is unknown or a value has the wrong type; the message names
                the key path and what was expected.
        """
        if not isinstance(config, dict):
            raise ConfigError(
                f"{source or 'The config'} is a {type(config).__name__}, not a mapping; "
                "an experiment config is a YAML mapping with an experiment: block."
            )
        data = dict(config)
        block = data.pop("experiment", None) or {}
        if not isinstance(block, dict):
            raise ConfigError(
                f"experiment: in {source or 'the config'} must be a mapping with name, "
                "description and entrypoint."
            )
        training = dict(data.pop("training", None) or {})
        if "seed" in data:
            training["seed"] = data.pop("seed")
        try:
            return cls.model_validate({**block, "training": training, "extra": data})
        except ValidationError as e:
            raise ConfigError(_explain(e, source)) from None

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the config as YAML (default ``configs/<name>.yaml``) and return the path.

        The file is an ordinary trialbook config: ``trialbook run <path>`` runs it.
        """
        import yaml

        target = Path(path) if path is not None else Path("configs") / f"{self.name}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.to_config(), sort_keys=False, allow_unicode=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)  # never a half-written config
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ExperimentConfig:
        """Read a config saved by :meth:`save` (or any config of the same shape).

        Raises:
            ConfigError: the file is missing or malformed, or does not fit these classes.
        """
        from trialbook.config._load import read_config

        p = Path(path)
        if not p.is_file():
            raise ConfigError(
                f"Config file {p} does not exist; save one with ExperimentConfig.save() or "
                "check the path."
            )
        # The one YAML reader: safe, with the size, nesting and alias limits.
        return cls.from_config(read_config(p).data, source=str(p))


def _suggest(parts: list[str]) -> str | None:
    """'did you mean ...?' for an unknown key, from the fields of the model it was given to."""
    import difflib

    model: Any = TrainingConfig if parts[0] == "training" else None
    choices: tuple[str, ...] = _BLOCK_FIELDS
    for part in parts[1:-1]:
        field = model.model_fields.get(part) if model is not None else None
        model = field.annotation if field is not None else None
    if parts[0] != "experiment":
        if model is None or not hasattr(model, "model_fields"):
            return None
        choices = tuple(model.model_fields)
    close = difflib.get_close_matches(parts[-1], choices, n=1)
    return f"did you mean {'.'.join([*parts[:-1], close[0]])!r}?" if close else None


def _explain(error: ValidationError, source: str | None) -> str:
    """pydantic's errors as sentences: where, what was given, what was expected."""
    lines = []
    for item in error.errors():
        parts = [str(part) for part in item["loc"]]
        # Report the key path as it appears in the YAML file (see ExperimentConfig.to_config).
        if parts[:2] == ["training", "seed"]:
            parts = ["seed", *parts[2:]]
        elif parts and parts[0] == "extra":
            parts = parts[1:]
        elif parts and parts[0] in _BLOCK_FIELDS:
            parts = ["experiment", *parts]
        loc = ".".join(parts)
        where = f"{source}: " if source else ""
        if item["type"] == "extra_forbidden":
            if len(parts) == 1:  # unknown keyword: it came from the experiment: block
                parts = ["experiment", *parts]
                loc = ".".join(parts)
            hint = _suggest(parts)
            lines.append(
                f"{where}unknown key {loc!r}; {hint or 'remove it or check its spelling.'}"
            )
            continue
        given = item.get("input")
        shown = repr(given) if not isinstance(given, dict) else "a mapping"
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}{loc or 'config'} = {shown}: {message}.")
    return " ".join(lines)
