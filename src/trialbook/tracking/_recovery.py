"""Recovering a damaged workspace database, with rebuilt runs indexed the way runs are
created (config hash, seed group key and params from their config)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trialbook.config._hash import config_hash, flatten_config, group_key
from trialbook.store._recover import Recovery, RunIdentity, recover

__all__ = ["recover_database", "run_identity"]


def run_identity(config: Mapping[str, Any], experiment: str) -> RunIdentity:
    """The config hash, group key and params of a run of ``experiment`` with ``config``: the
    hash and group key cover the experiment's name as well as the config."""
    block = config.get("experiment")
    identity = {
        **config,
        "experiment": {**(block if isinstance(block, Mapping) else {}), "name": experiment},
    }
    return RunIdentity(config_hash(identity), group_key(identity), flatten_config(config))


def recover_database(db: Path, root: Path) -> Recovery:
    """Copy what is readable of the damaged SQLite database ``db`` into a new one and fill in
    from the run folders in ``root`` what it lost; see :func:`trialbook.store.recover`.

    Raises:
        WorkspaceError: there is no such file, or its folder cannot be written.
        StoreError: the new database could not be written (nothing was renamed then).
    """
    return recover(db, root, identify=run_identity)
