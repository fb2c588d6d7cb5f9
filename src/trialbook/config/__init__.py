"""Experiment configs: loading YAML, overrides, validation, hashes, suites and the run plan."""

from trialbook.config._experiment import EXPERIMENT_KEYS, ExperimentBlock, experiment_block
from trialbook.config._hash import config_hash, flatten_config, group_key, to_plain_config
from trialbook.config._load import ConfigSource, load_config, read_config
from trialbook.config._overrides import Override, apply_overrides, parse_override
from trialbook.config._plan import MISSING, Plan, PlannedRun
from trialbook.config._suggest import closest
from trialbook.config._suite import (
    SUITE_DIRS,
    format_changes,
    plan_configs,
    plan_runs,
    suite_shortcuts,
)
from trialbook.config._validate import schema_of, validate_config

__all__ = [
    "EXPERIMENT_KEYS",
    "MISSING",
    "SUITE_DIRS",
    "ConfigSource",
    "ExperimentBlock",
    "Override",
    "Plan",
    "PlannedRun",
    "apply_overrides",
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
    "schema_of",
    "suite_shortcuts",
    "to_plain_config",
    "validate_config",
]
