"""Experiment configs: loading YAML, overrides, validation, hashes, suites and the run plan,
and the typed config models (``ExperimentConfig``, ``TrainingConfig`` and its strategies)."""

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes
from trialbook.config._changes import format_changes
from trialbook.config._experiment import (
    EXPERIMENT_KEYS,
    ExperimentBlock,
    Resources,
    experiment_block,
)
from trialbook.config._hash import (
    canonical_setting,
    config_hash,
    flatten_config,
    group_key,
    same_setting,
    to_plain_config,
)
from trialbook.config._inputs import SUITE_DIRS
from trialbook.config._load import ConfigSource, load_config, read_config
from trialbook.config._overrides import Override, apply_overrides, parse_override
from trialbook.config._plan import MISSING, Plan, PlannedRun, suite_of
from trialbook.config._planning import plan_configs, plan_runs, suite_shortcuts
from trialbook.config._suggest import closest
from trialbook.config._validate import schema_of, validate_config

# The pydantic models load on first use (importing this package stays free of pydantic).
_LAZY = {
    name: "trialbook.config._models"
    for name in (
        "CartographyFilterConfig",
        "ClusterFilterConfig",
        "ExperimentConfig",
        "LabelSmoothingConfig",
        "SoftWeightingConfig",
        "TrainingConfig",
    )
}

__all__ = [
    "EXPERIMENT_KEYS",
    "MISSING",
    "SUITE_DIRS",
    "CartographyFilterConfig",
    "ClusterFilterConfig",
    "ConfigSource",
    "ExperimentBlock",
    "ExperimentConfig",
    "LabelSmoothingConfig",
    "Override",
    "Plan",
    "PlannedRun",
    "Resources",
    "SoftWeightingConfig",
    "TrainingConfig",
    "apply_overrides",
    "canonical_setting",
    "closest",
    "config_hash",
    "experiment_block",
    "flatten_config",
    "format_changes",
    "group_key",
    "load_config",
    "parse_override",
    "plan_configs",
    "plan_runs",
    "read_config",
    "same_setting",
    "schema_of",
    "suite_of",
    "suite_shortcuts",
    "to_plain_config",
    "validate_config",
]

if TYPE_CHECKING:
    from trialbook.config._models import (
        CartographyFilterConfig,
        ClusterFilterConfig,
        ExperimentConfig,
        LabelSmoothingConfig,
        SoftWeightingConfig,
        TrainingConfig,
    )

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
