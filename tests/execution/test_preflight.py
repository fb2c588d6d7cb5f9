"""Configs are checked against an entrypoint's declared schema before anything runs."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from runner_helpers import Workspace, plan, planned
from typer.testing import CliRunner

from trialbook import ConfigError
from trialbook.cli import app

TYPED = """
from dataclasses import dataclass


@dataclass
class Training:
    learning_rate: float
    epochs: int = 3


@dataclass
class Config:
    training: Training


def train(config: Config, run):
    return {"lr": config.training.learning_rate}
"""


@pytest.fixture
def typed(ws: Workspace) -> Workspace:
    (ws.cwd / "typed.py").write_text(textwrap.dedent(TYPED))
    sys.modules.pop("typed", None)
    return ws


def typed_run(name: str, **training: object) -> object:
    run = planned("train", name=name, training=training)
    block = dict(run.config["experiment"], entrypoint="typed:train")
    config = dict(run.config, experiment=block)
    return type(run)(**{**run.__dict__, "config": config})


def test_a_wrong_type_is_refused_before_anything_is_written(typed: Workspace) -> None:
    good = typed_run("good", learning_rate=0.1)
    bad = typed_run("bad", learning_rate="fast")

    with pytest.raises(ConfigError) as info:
        typed.runner().run(plan(good, bad))

    message = str(info.value)
    assert "Run 'bad' (typed:train): " in message and "does not match Config" in message
    assert "training.learning_rate" in message
    assert "'fast'" in message
    assert not typed.root.exists()
    # The runner never imported the user's module itself.
    assert "typed" not in sys.modules


def test_an_unknown_key_is_refused_and_matching_configs_run(typed: Workspace) -> None:
    with pytest.raises(ConfigError, match="learning_rat"):
        typed.runner().run(plan(typed_run("typo", learning_rat=0.1)))
    assert not typed.root.exists()

    result = typed.runner().run(plan(typed_run("fine", learning_rate=0.1, epochs=2)))
    assert result.exit_code == 0
    with typed.store() as store:
        (run,) = store.list_runs()
        assert store.metric_summaries([run.id])[run.id]["lr"].last == 0.1


def test_a_module_that_fails_to_import_is_left_to_the_run(ws: Workspace) -> None:
    (ws.cwd / "broken.py").write_text(
        "import no_such_dependency\n\n\ndef train(config, run):\n    pass\n"
    )
    run = planned("train", name="broken")
    config = dict(run.config, experiment={"name": "exp", "entrypoint": "broken:train"})
    run = type(run)(**{**run.__dict__, "config": config})

    result = ws.runner().run(plan(run))

    assert result.exit_code == 1
    with ws.store() as store:
        (record,) = store.list_runs()
        assert record.status == "failed"
        assert "no_such_dependency" in (record.error or "")


def test_the_cli_exits_2_on_a_schema_mismatch(typed: Workspace) -> None:
    (typed.cwd / "exp.yaml").write_text(
        "experiment:\n  name: exp\n  entrypoint: typed:train\n"
        "seed: 1\ntraining:\n  learning_rate: fast\n"
    )

    result = CliRunner().invoke(app, ["--root", str(typed.root), "run", "exp.yaml"])

    assert result.exit_code == 2, result.output
    assert "Run 'exp' (typed:train): " in result.output
    assert "Traceback" not in result.output
    assert not typed.root.exists()


def test_the_error_names_the_line_of_the_bad_key(typed: Workspace) -> None:
    (typed.cwd / "exp.yaml").write_text(
        "experiment:\n  name: exp\n  entrypoint: typed:train\n"
        "seed: 1\ntraining:\n  epochs: 2\n  learning_rate: fast\n"
    )

    result = CliRunner().invoke(app, ["--root", str(typed.root), "run", "exp.yaml"])

    assert result.exit_code == 2, result.output
    assert "training.learning_rate (line 7)" in result.output


def test_an_entrypoint_that_is_not_a_function_is_refused(ws: Workspace) -> None:
    (ws.cwd / "notcallable.py").write_text("train = 5\n")
    run = planned("train", name="nc")
    config = dict(run.config, experiment={"name": "exp", "entrypoint": "notcallable:train"})
    run = type(run)(**{**run.__dict__, "config": config})

    with pytest.raises(ConfigError, match="is an int, not a function"):
        ws.runner().run(plan(run))
    assert not ws.root.exists()


def test_a_mistyped_command_placeholder_is_refused(ws: Workspace) -> None:
    bad = planned(name="cmd", command=f"{sys.executable} -c pass --config {{confg}}")
    fine = planned(name="cmd2", command=f"{sys.executable} -c pass {{x}} {{seed}}")

    with pytest.raises(ConfigError, match=r"\{confg\}; did you mean \{config\}\?"):
        ws.runner().run(plan(bad))
    assert not ws.root.exists()
    # Braces that are not near a placeholder's name are left to the command.
    assert ws.runner().run(plan(fine)).exit_code == 0


def test_meta_json_records_the_command_that_launched_the_run(ws: Workspace) -> None:
    import json

    result = ws.runner().run(plan(planned("ok", name="launched")))

    assert result.exit_code == 0
    with ws.store() as store:
        (record,) = store.list_runs()
    meta = json.loads((Path(record.folder or "") / "meta.json").read_text())
    assert meta["launched_by"] == sys.argv
    assert meta["command"][0].endswith("_child.py")
