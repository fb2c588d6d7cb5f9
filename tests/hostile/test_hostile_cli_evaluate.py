"""Hostile input to ``trialbook evaluate``: benchmarks, predictions files, datasets, model specs
and numeric options (one ``error:`` line, exit 2, no run, no evaluation, no file)."""

from __future__ import annotations

import pytest
from hostile_helpers import HUGE, Case, CliCase, c, check_cli_case, params

W = ("--root", "{ws}")
GOOD = '{"id": "0", "prediction": "#### 18"}\n{"id": "1", "prediction": "#### 3"}\n'
EV = ("evaluate", "gsm8k", *W, "-n", "2", "--predictions", "{tmp}/p.jsonl")
DATA = '{"q": "1+1", "a": "2", "k": "x"}\n{"q": "2+2", "a": "4", "k": "y"}\n'
JL = (
    "evaluate",
    "jsonl",
    *W,
    "--data",
    "{tmp}/d.jsonl",
    "--question-field",
    "q",
    "--answer-field",
    "a",
    "--predictions",
    "{tmp}/p.jsonl",
)


def preds(text: str | bytes) -> dict[str, str | bytes]:
    return {"p.jsonl": text}


def data(text: str, predictions: str = GOOD) -> dict[str, str | bytes]:
    return {"d.jsonl": text, "p.jsonl": predictions}


PREDICTIONS = [
    c(
        "benchmark-typo",
        "evaluate",
        "gsm8kk",
        *W,
        "--predictions",
        "{tmp}/p.jsonl",
        names=["gsm8kk"],
        files=preds(GOOD),
    ),
    c("no-model-no-predictions", "evaluate", "gsm8k", *W, names=["--model"]),
    c(
        "model-and-predictions",
        *EV,
        "--model",
        "python:json:dumps",
        names=["--model"],
        files=preds(GOOD),
    ),
    c("predictions-missing", *EV, names=["p.jsonl"]),
    c("predictions-is-a-folder", *EV, names=["p.jsonl"], files={"p.jsonl/x": "1"}),
    c("predictions-empty", *EV, names=["p.jsonl"], files=preds("")),
    c(
        "predictions-dev-null",
        "evaluate",
        "gsm8k",
        *W,
        "-n",
        "2",
        "--predictions",
        "/dev/null",
        names=["/dev/null"],
    ),
    c("predictions-binary", *EV, names=["p.jsonl"], files=preds(bytes(range(256)) * 4)),
    c(
        "predictions-not-utf8",
        *EV,
        names=["p.jsonl"],
        files=preds(GOOD.replace("18", "caf\xe9").encode("latin-1")),
    ),
    c(
        "predictions-line-not-json",
        *EV,
        names=["line 2"],
        files=preds(GOOD.splitlines()[0] + "\nnot json\n"),
    ),
    c(
        "predictions-truncated-last-line",
        *EV,
        names=["line 2"],
        files=preds(GOOD.splitlines()[0] + '\n{"id": "1", "predi'),
    ),
    c("predictions-line-is-a-list", *EV, names=["line 1"], files=preds("[1, 2]\n" + GOOD)),
    c(
        "predictions-without-prediction",
        *EV,
        names=["line 1", "prediction"],
        files=preds('{"id": "0", "pred": "#### 18"}\n'),
    ),
    c("predictions-without-id", *EV, names=["line 1"], files=preds('{"prediction": "1"}\n')),
    c(
        "predictions-duplicate-id",
        *EV,
        names=["line 3", "0"],
        files=preds(GOOD + '{"id": "0", "prediction": "#### 5"}\n'),
    ),
    c(
        "predictions-unknown-id",
        *EV,
        names=["99999999"],
        files=preds(GOOD + '{"id": "99999999", "prediction": "#### 5"}\n'),
    ),
    c("predictions-missing-example", *EV, names=["1"], files=preds(GOOD.splitlines()[0])),
    c(
        "prediction-null",
        *EV,
        names=["line 1"],
        files=preds('{"id": "0", "prediction": null}\n' + GOOD.splitlines()[1]),
    ),
    c(
        "prediction-bare-nan",
        *EV,
        names=["line 1"],
        files=preds('{"id": "0", "prediction": NaN}\n' + GOOD.splitlines()[1]),
    ),
    c(
        "prediction-id-is-a-list",
        *EV,
        names=["line 1"],
        files=preds('{"id": [0], "prediction": "#### 18"}\n' + GOOD.splitlines()[1]),
    ),
]

OPTIONS = [
    c("num-samples-zero", *EV, "-n", "0", names=["0"], files=preds(GOOD)),
    c("num-samples-negative", *EV, "-n", "-1", names=["-1"], files=preds(GOOD)),
    # Refused as an integer no database holds (the message names the limit with commas).
    c(
        "num-samples-beyond-64-bits",
        *EV,
        "-n",
        HUGE,
        names=[HUGE, "9,223,372,036,854,775,807"],
        files=preds(GOOD),
    ),
    c("num-samples-text", *EV, "-n", "two", names=["two"], files=preds(GOOD)),
    c("batch-size-zero", *EV, "--batch-size", "0", names=["0"], files=preds(GOOD)),
    c("batch-size-negative", *EV, "--batch-size", "-4", names=["-4"], files=preds(GOOD)),
    c("split-typo", *EV, "--split", "tset", names=["tset"], files=preds(GOOD)),
    c("shots-three", *EV, "--shots", "3", names=["3"], files=preds(GOOD)),
    c("extraction-typo", *EV, "--extraction", "loose", names=["loose"], files=preds(GOOD)),
    c("run-unknown", *EV, "--run", "nosuch", names=["nosuch"], files=preds(GOOD)),
    c("run-ambiguous-prefix", *EV, "--run", "2026", names=["2026"], files=preds(GOOD)),
    c(
        "run-and-experiment",
        *EV,
        "--run",
        "alpha",
        "--experiment",
        "other",
        names=["--experiment"],
        files=preds(GOOD),
    ),
    c("gsm8k-option-on-jsonl", *JL, "--shots", "8", names=["shots"], files=data(DATA)),
    c("jsonl-option-on-gsm8k", *EV, "--data", "{tmp}/p.jsonl", names=["--data"], files=preds(GOOD)),
]

DATASETS = [
    c(
        "jsonl-without-data",
        "evaluate",
        "jsonl",
        *W,
        "--predictions",
        "{tmp}/p.jsonl",
        names=["--data"],
        files=preds(GOOD),
    ),
    c("jsonl-data-missing", *JL, names=["d.jsonl"], files=preds(GOOD)),
    c("jsonl-data-empty", *JL, names=["d.jsonl"], files=data("")),
    c("jsonl-data-not-json", *JL, names=["line 2"], files=data(DATA.splitlines()[0] + "\n{x\n")),
    c(
        "jsonl-data-truncated-last-line",
        *JL,
        names=["line 2"],
        files=data(DATA.splitlines()[0] + '\n{"q": "2+2", "a"'),
    ),
    c("jsonl-data-line-is-a-list", *JL, names=["line 1"], files=data("[1, 2]\n" + DATA)),
    c(
        "jsonl-answer-null",
        *JL,
        names=["line 1"],
        files=data('{"q": "1+1", "a": null}\n' + DATA.splitlines()[1]),
    ),
    c(
        "jsonl-question-is-a-list",
        *JL,
        names=["line 1"],
        files=data('{"q": ["1+1"], "a": "2"}\n' + DATA.splitlines()[1]),
    ),
    c(
        "jsonl-question-field-typo",
        *JL[:-4],
        "--question-field",
        "qq",
        "--answer-field",
        "a",
        "--predictions",
        "{tmp}/p.jsonl",
        names=["qq"],
        files=data(DATA),
    ),
    c(
        "jsonl-answer-field-typo",
        *JL[:-4],
        "--question-field",
        "q",
        "--answer-field",
        "aa",
        "--predictions",
        "{tmp}/p.jsonl",
        names=["aa"],
        files=data(DATA),
    ),
    c("jsonl-id-field-missing", *JL, "--id-field", "ident", names=["ident"], files=data(DATA)),
    c(
        "jsonl-id-field-duplicate",
        *JL,
        "--id-field",
        "a",
        names=["2"],
        files=data(
            DATA + '{"q": "3+3", "a": "2", "k": "z"}\n', GOOD + '{"id": "2", "prediction": "6"}\n'
        ),
    ),
    c("jsonl-slice-by-missing-field", *JL, "--slice-by", "kind", names=["kind"], files=data(DATA)),
]

MODELS = [
    c(
        "model-scheme-typo",
        "evaluate",
        "gsm8k",
        *W,
        "-n",
        "2",
        "--model",
        "pyton:json:dumps",
        names=["pyton"],
    ),
    c(
        "model-module-missing",
        "evaluate",
        "gsm8k",
        *W,
        "-n",
        "2",
        "--model",
        "python:nosuchmodule_hostile:answer",
        names=["nosuchmodule_hostile"],
    ),
    c(
        "model-function-missing",
        "evaluate",
        "gsm8k",
        *W,
        "-n",
        "2",
        "--model",
        "python:json:nosuchfunction",
        names=["nosuchfunction"],
    ),
    c(
        "model-without-function",
        "evaluate",
        "gsm8k",
        *W,
        "-n",
        "2",
        "--model",
        "python:json",
        names=["python:json"],
    ),
    c(
        "model-hf-folder-missing",
        "evaluate",
        "gsm8k",
        *W,
        "-n",
        "1",
        "--model",
        "hf:{tmp}/nomodel",
        names=["{tmp}/nomodel"],
    ),
    c(
        "model-folder-without-config",
        "evaluate",
        "gsm8k",
        *W,
        "-n",
        "1",
        "--model",
        "{tmp}/emptymodel",
        names=["{tmp}/emptymodel"],
        files={"emptymodel/weights.bin": b"0"},
    ),
    c(
        "model-openai-not-a-url",
        "evaluate",
        "gsm8k",
        *W,
        "-n",
        "1",
        "--model",
        "openai:notaurl?model=x",
        names=["notaurl"],
    ),
    c(
        "model-openai-without-model",
        "evaluate",
        "gsm8k",
        *W,
        "-n",
        "1",
        "--model",
        "openai:http://127.0.0.1:1/v1",
        names=["?model="],
    ),
    c("model-empty", "evaluate", "gsm8k", *W, "-n", "2", "--model", "", names=["model spec"]),
]

CASES = PREDICTIONS + OPTIONS + DATASETS + MODELS


@pytest.mark.parametrize("x", params(CASES))
def test_evaluate_refuses_hostile_input_in_one_line(case: Case, x: CliCase) -> None:
    check_cli_case(case, x)
