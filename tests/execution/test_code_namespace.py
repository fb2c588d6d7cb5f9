"""Entrypoints inside folders without __init__.py (namespace packages) are found and run."""

from __future__ import annotations

from typing import Any

import pytest
from runner_helpers import Workspace, plan, planned

from trialbook import ConfigError


def _entry(run: Any, entrypoint: str) -> Any:
    config = dict(run.config, experiment={"name": "exp", "entrypoint": entrypoint})
    return type(run)(**{**run.__dict__, "config": config})


def test_nested_namespace_packages(ws: Workspace) -> None:
    folder = ws.cwd / "ns" / "sub"
    folder.mkdir(parents=True)
    (folder / "mod.py").write_text("def train(config, run):\n    return {'x': 1.0}\n")

    result = ws.runner().run(plan(_entry(planned("train"), "ns.sub.mod:train")))

    assert result.exit_code == 0
    with pytest.raises(ConfigError, match=r"'ns\.sub\.nope' .* was not found"):
        ws.runner().run(plan(_entry(planned("train", seed=2), "ns.sub.nope:train")))
