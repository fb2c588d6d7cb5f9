"""Helpers for the Runner tests: a workspace in tmp_path with a module of tiny entrypoints."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import trialbook
from trialbook.config import config_hash, group_key
from trialbook.config._plan import Plan, PlannedRun
from trialbook.execution import Runner
from trialbook.store import Store

#: Entrypoints the tests run; written as tasks.py in the test's working directory.
TASKS = '''
import os, signal, sys, time
from pathlib import Path


def ok(config, run):
    print("hello from", config.get("value"))
    for step in range(3):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    return {"eval_accuracy": config.get("value", 1.0)}


def boom(config, run):
    run.log({"loss": 2.0}, step=0)
    raise ValueError("boom at value " + str(config.get("value")))


def mistake(config, run):
    from trialbook.errors import ConfigError
    raise ConfigError("data.path 'nope.jsonl' does not exist;\\n  run `make data` first.")


def sleepy(config, run):
    Path("sleepy-started").touch()
    time.sleep(120)


def suicide(config, run):
    os.kill(os.getpid(), signal.SIGKILL)


def gate(config, run):
    """Completes at once unless its index is at least config['block_from'] and no release
    file exists yet; then it waits (until killed or released)."""
    if config["index"] >= config.get("block_from", 10**9):
        Path(f"blocked-{config['index']}").touch()
        while not Path("release").exists():
            time.sleep(0.02)
    return {"eval_accuracy": 1.0}


def flaky(config, run):
    marker = Path(f"flaky-{config['value']}")
    attempts = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(attempts + 1))
    if attempts < config.get("fail_times", 1):
        raise RuntimeError(f"flaky failure {attempts + 1}")
    return {"eval_accuracy": 1.0}


def rendezvous(config, run):
    me, other = config["me"], config["other"]
    Path(f"start-{me}").write_text(repr(time.time()))
    deadline = time.monotonic() + 30
    while not Path(f"start-{other}").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{other} never started while {me} ran")
        time.sleep(0.01)
    Path(f"end-{me}").write_text(repr(time.time()))
    return {"eval_accuracy": 1.0}


class Model:
    pass


def unstorable(config, run):
    return {
        "acc": 0.5,
        "loss": float("nan"),
        "eval": {"f1": 0.25, "model": Model()},
        "note": "kept",
        "huge": 10**400,
    }


def seeds(config, run):
    import random
    return {"draw": random.random(), "hash": hash("trialbook") % 1000}
'''


@dataclass
class Workspace:
    """The test's working directory (with tasks.py) and its workspace root."""

    cwd: Path
    root: Path

    def store(self) -> Store:
        return trialbook.open_store(self.root)

    def runner(self, **options: Any) -> Runner:
        options.setdefault("progress", "quiet")
        options.setdefault("grace", 3.0)
        return Runner(root=self.root, cwd=self.cwd, **options)


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE", "TRIALBOOK_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    # Child processes inherit these: no system sampling, quick flushes.
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    monkeypatch.setenv("TRIALBOOK_FLUSH_INTERVAL", "0.05")
    (tmp_path / "tasks.py").write_text(textwrap.dedent(TASKS))
    monkeypatch.chdir(tmp_path)
    yield Workspace(tmp_path, tmp_path / "experiments")


def planned(
    function: str = "ok",
    *,
    name: str | None = None,
    seed: int | None = 1,
    command: str | None = None,
    **values: Any,
) -> PlannedRun:
    """One planned run of ``tasks:<function>`` (or of ``command``) with ``values`` in its
    config."""
    block: dict[str, Any] = {"name": "exp"}
    if command is not None:
        block["command"] = command
    else:
        block["entrypoint"] = f"tasks:{function}"
    config: dict[str, Any] = {"experiment": block, **values}
    if seed is not None:
        config["seed"] = seed
    return PlannedRun(
        name=name or function,
        experiment="exp",
        config=config,
        seed=seed,
        config_hash=config_hash(config),
        group_key=group_key(config),
    )


def plan(*runs: PlannedRun) -> Plan:
    return Plan(tuple(runs))


def wait_until(condition: Callable[[], bool], what: str, deadline: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.02)


def statuses(store: Store) -> dict[str, int]:
    counts: dict[str, int] = {}
    for run in store.list_runs():
        counts[run.status] = counts.get(run.status, 0) + 1
    return counts


def names(runs: Sequence[Any]) -> list[str]:
    return [r.name for r in runs]
