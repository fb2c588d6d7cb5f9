"""Experiment configs: normalisation, flattening and stable hashes."""

from trialbook.config._hash import config_hash, flatten_config, group_key, to_plain_config

__all__ = ["config_hash", "flatten_config", "group_key", "to_plain_config"]
