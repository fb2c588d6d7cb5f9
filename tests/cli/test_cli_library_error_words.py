"""The same mistake in the library's words from Python and in the command line's through
``trialbook``: an unknown experiment, a predictions file with a null output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import Cli, assert_user_error

import trialbook
from trialbook.analysis import list_runs
from trialbook.errors import ConfigError
from trialbook.evaluation import PredictionsFile, evaluate
from trialbook.store import RunQuery


@pytest.fixture
def root(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    with trialbook.start_run(
        "baseline", {"lr": 1}, root=ws, system_metrics=False, capture_packages=False
    ) as run:
        run.log({"loss": 0.5}, step=0)
    return ws


def test_unknown_experiment_names_no_command_from_python(root: Path) -> None:
    with trialbook.open_store(root) as store, pytest.raises(ConfigError) as err:
        list_runs(store, RunQuery(experiment="basline"))
    assert str(err.value) == "No experiment 'basline'; did you mean 'baseline'?"
    assert err.value.parameter == "experiment"


def test_unknown_experiment_points_at_ls_by_group_on_the_command_line(root: Path) -> None:
    assert_user_error(
        Cli()("ls", "--root", root, "-e", "basline"),
        "No experiment 'basline'; did you mean 'baseline'? "
        "(list them with `trialbook ls --by group`)",
    )


def _null_output(tmp_path: Path) -> Path:
    path = tmp_path / "null.jsonl"
    rows = [{"id": "0", "prediction": "#### 18"}, {"id": "1", "prediction": None}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_null_prediction_names_allow_missing_parameter_from_python(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        evaluate(PredictionsFile(_null_output(tmp_path)), "gsm8k", progress=False)
    assert str(err.value).endswith("leave the line out and pass allow_missing=True.")
    assert err.value.parameter == "allow_missing"


def test_null_prediction_names_allow_missing_flag_on_the_command_line(tmp_path: Path) -> None:
    line = assert_user_error(
        Cli()("evaluate", "gsm8k", "--root", tmp_path, "--predictions", _null_output(tmp_path)),
        "'prediction' is null",
        "leave the line out and pass --allow-missing.",
    )
    assert "allow_missing" not in line
