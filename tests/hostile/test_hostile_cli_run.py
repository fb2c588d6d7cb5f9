"""Hostile configs, suites, overrides and options for ``trialbook run`` (refused at plan time:
one ``error:`` line, exit 2, no run folder, no row, no workspace when there was none)."""

from __future__ import annotations

import pytest
from hostile_helpers import HUGE, SCRIPTED, Case, CliCase, c, check_cli_case, params

W = ("--root", "{ws}")
# Not the workspace's own scripted run (that one would be skipped as completed).
FRESH = SCRIPTED.replace("lr: 0.1", "lr: 0.3")
EXP = {"exp.yaml": FRESH}
RUN = ("run", "{tmp}/exp.yaml", *W)


def cfg(text: str | bytes) -> dict[str, str | bytes]:
    if isinstance(text, str):
        text = text.replace("lr: 0.1", "lr: 0.3")
    return {"exp.yaml": text}


SUITE = """suite: hostile
base: exp.yaml
experiments:
  - name: one
  - name: two
    set: {lr: 0.2}
suites:
  small: [one]
"""


def suite(text: str) -> dict[str, str | bytes]:
    return {"exp.yaml": FRESH, "suite.yaml": text}


S = ("run", "{tmp}/suite.yaml", *W)

FILES = [
    c("missing-file", "run", "{tmp}/nope.yaml", *W, names=["nope.yaml"]),
    c(
        "folder-without-configs",
        "run",
        "{tmp}/empty",
        *W,
        names=["empty"],
        files={"empty/notes.txt": "x"},
    ),
    c(
        "folder-named-like-a-config",
        "run",
        "{tmp}/dir.yaml",
        *W,
        names=["dir.yaml"],
        files={"dir.yaml/notes.txt": "x"},
    ),
    c("empty-file", *RUN, names=["exp.yaml"], files=cfg("")),
    c("only-a-comment", *RUN, names=["exp.yaml"], files=cfg("# nothing here\n")),
    c("binary-file", *RUN, names=["exp.yaml"], files=cfg(bytes(range(256)) * 4)),
    c(
        "not-utf8",
        *RUN,
        names=["exp.yaml"],
        files=cfg(SCRIPTED.replace("scripted", "caf\xe9").encode("latin-1")),
    ),
    c(
        "tab-indent",
        *RUN,
        names=["exp.yaml"],
        files=cfg("experiment:\n\tname: x\n\tcommand: python -c pass\n"),
    ),
    c("duplicate-key", *RUN, names=["lr"], files=cfg(SCRIPTED + "lr: 0.2\n")),
    c("unclosed-bracket", *RUN, names=["exp.yaml"], files=cfg(SCRIPTED + "extra: [1, 2\n")),
    c("top-level-list", *RUN, names=["exp.yaml"], files=cfg("- 1\n- 2\n")),
    c("top-level-scalar", *RUN, names=["exp.yaml"], files=cfg("hello\n")),
    c(
        "python-object-tag",
        *RUN,
        names=["exp.yaml"],
        files=cfg(SCRIPTED + "x: !!python/object/apply:os.system ['touch {tmp}/pwned']\n"),
    ),
    c("unknown-tag", *RUN, names=["exp.yaml"], files=cfg(SCRIPTED + "x: !custom 1\n")),
    c(
        "experiment-not-a-mapping",
        *RUN,
        names=["experiment"],
        files=cfg("experiment: scripted\nseed: 1\n"),
    ),
    c(
        "experiment-key-typo",
        *RUN,
        names=["entrypont"],
        files=cfg("experiment:\n  name: x\n  entrypont: m:f\n"),
    ),
    c(
        "no-entrypoint-nor-command",
        *RUN,
        names=["exp.yaml"],
        files=cfg("experiment:\n  name: x\nseed: 1\n"),
    ),
    c(
        "entrypoint-and-command",
        *RUN,
        names=["exp.yaml"],
        files=cfg("experiment:\n  name: x\n  command: python -c pass\n  entrypoint: m:f\n"),
    ),
    c(
        "entrypoint-without-colon",
        *RUN,
        names=["train"],
        files=cfg("experiment:\n  name: x\n  entrypoint: train\n"),
    ),
    c(
        "entrypoint-module-missing",
        *RUN,
        names=["nosuchmodule_hostile"],
        files=cfg("experiment:\n  name: x\n  entrypoint: nosuchmodule_hostile:train\n"),
    ),
    c(
        "experiment-tags-a-string",
        *RUN,
        names=["abc"],
        files=cfg(SCRIPTED.replace("  command:", "  tags: abc\n  command:")),
    ),
    c(
        "experiment-tags-not-strings",
        *RUN,
        names=["tags"],
        files=cfg(SCRIPTED.replace("  command:", "  tags: [1, null]\n  command:")),
    ),
    c(
        "experiment-tags-a-mapping",
        *RUN,
        names=["tags"],
        files=cfg(SCRIPTED.replace("  command:", "  tags: {team: nlp}\n  command:")),
    ),
    c(
        "command-empty",
        *RUN,
        names=["command"],
        files=cfg("experiment:\n  name: x\n  command: ''\n"),
    ),
    c(
        "experiment-name-empty",
        *RUN,
        names=["name"],
        files=cfg("experiment:\n  name: ''\n  command: python -c pass\n"),
    ),
    c(
        "bad-yaml-without-root-creates-no-workspace",
        "run",
        "{tmp}/exp.yaml",
        names=["exp.yaml"],
        files=cfg("a: [1\n"),
    ),
]

SEEDS = [
    c("seed-text", *RUN, names=["abc"], files=cfg(SCRIPTED.replace("seed: 5", "seed: abc"))),
    c("seed-float", *RUN, names=["1.5"], files=cfg(SCRIPTED.replace("seed: 5", "seed: 1.5"))),
    c("seed-bool", *RUN, names=["seed"], files=cfg(SCRIPTED.replace("seed: 5", "seed: true"))),
    c("seed-negative", *RUN, names=["-5"], files=cfg(SCRIPTED.replace("seed: 5", "seed: -5"))),
    c(
        "seed-above-32-bits",
        *RUN,
        names=["4294967296"],
        files=cfg(SCRIPTED.replace("seed: 5", "seed: 4294967296")),
    ),
    c(
        "seed-beyond-64-bits",
        *RUN,
        names=[HUGE],
        files=cfg(SCRIPTED.replace("seed: 5", f"seed: {HUGE}")),
    ),
    c("seeds-option-negative", *RUN, "--seeds", "-5", names=["-5"], files=EXP),
    c("seeds-option-above-32-bits", *RUN, "--seeds", "4294967296", names=["4294967296"], files=EXP),
    c("seeds-option-beyond-64-bits", *RUN, "--seeds", HUGE, names=[HUGE], files=EXP),
    c("seeds-option-negative-dry-run", *RUN, "--seeds", "-5", "--dry-run", names=["-5"], files=EXP),
    c(
        "seeds-option-beyond-64-bits-dry-run",
        *RUN,
        "--seeds",
        HUGE,
        "--dry-run",
        names=[HUGE],
        files=EXP,
    ),
    c("seeds-option-text", *RUN, "--seeds", "abc", names=["abc"], files=EXP),
    c("seeds-option-and-seed-override", *RUN, "--seeds", "4", "seed=3", names=["seed"], files=EXP),
    c(
        "seeds-option-beyond-64-bits-new-root",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{tmp}/fresh",
        "--seeds",
        HUGE,
        names=[HUGE],
        files=EXP,
    ),
    c(
        "seed-beyond-64-bits-new-root",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{tmp}/fresh",
        names=[HUGE],
        files=cfg(SCRIPTED.replace("seed: 5", f"seed: {HUGE}")),
    ),
    c(
        "seeds-option-negative-new-root",
        "run",
        "{tmp}/exp.yaml",
        "--root",
        "{tmp}/fresh",
        "--seeds",
        "-1",
        names=["-1"],
        files=EXP,
    ),
    c(
        "suite-seeds-negative",
        *S,
        names=["-1"],
        files=suite(SUITE.replace("experiments:", "seeds: [-1]\nexperiments:")),
    ),
]

OVERRIDES = [
    c("override-unknown-key", *RUN, "lrr=0.5", names=["lrr"], files=EXP),
    c("override-unknown-nested-key", *RUN, "model.layer=3", names=["model.layer"], files=EXP),
    c("override-add-existing-key", *RUN, "+lr=1", names=["lr"], files=EXP),
    c("override-remove-missing-key", *RUN, "~nokey", names=["nokey"], files=EXP),
    c("override-empty-key", *RUN, "=5", names=["=5"], files=EXP),
    c("override-double-dot", *RUN, "model..layers=3", names=["model..layers"], files=EXP),
    c("override-unclosed-value", *RUN, "lr=[1,", names=["[1,"], files=EXP),
    c("set-without-equals", *RUN, "--set", "lr", names=["lr"], files=EXP),
    c("override-into-a-scalar", *RUN, "lr.inner=3", names=["lr.inner"], files=EXP),
    c(
        "override-experiment-key-typo",
        *RUN,
        "experiment.nme=x",
        names=["experiment.nme"],
        files=EXP,
    ),
]

OPTIONS = [
    c("jobs-zero", *RUN, "--jobs", "0", names=["0"], files=EXP),
    c("jobs-negative", *RUN, "--jobs", "-1", names=["-1"], files=EXP),
    c("jobs-text", *RUN, "--jobs", "two", names=["two"], files=EXP),
    c("timeout-negative", *RUN, "--timeout", "-1", names=["-1"], files=EXP),
    c("timeout-zero", *RUN, "--timeout", "0", names=["0"], files=EXP),
    c("timeout-nan", *RUN, "--timeout", "nan", names=["nan"], files=EXP),
    c("retries-negative", *RUN, "--retries", "-1", names=["-1"], files=EXP),
    c("executor-typo", *RUN, "--executor", "locl", names=["locl"], files=EXP),
    c("suite-option-on-plain-config", *RUN, "--suite", "small", names=["small"], files=EXP),
    c(
        "flush-interval-env-text",
        *RUN,
        names=["abc"],
        files=EXP,
        env={"TRIALBOOK_FLUSH_INTERVAL": "abc"},
    ),
    c(
        "flush-interval-env-negative",
        *RUN,
        names=["-1"],
        files=EXP,
        env={"TRIALBOOK_FLUSH_INTERVAL": "-1"},
    ),
    c("store-not-a-url", *RUN, "--store", "notaurl", names=["notaurl"], files=EXP),
]

SUITES = [
    c("suite-name-unknown", *S, "--suite", "smal", names=["smal"], files=suite(SUITE)),
    c(
        "suite-base-missing",
        *S,
        names=["nobase.yaml"],
        files=suite(SUITE.replace("base: exp.yaml", "base: nobase.yaml")),
    ),
    c(
        "suite-base-is-itself",
        *S,
        names=["suite.yaml"],
        files=suite(SUITE.replace("base: exp.yaml", "base: suite.yaml")),
    ),
    c("suite-without-base", *S, names=["base"], files=suite(SUITE.replace("base: exp.yaml\n", ""))),
    c(
        "suite-unknown-key",
        *S,
        names=["experimnts"],
        files=suite(SUITE.replace("experiments:", "experimnts: []\nexperiments:")),
    ),
    c(
        "suite-entry-without-name",
        *S,
        names=["name"],
        files=suite(SUITE.replace("  - name: one\n", "  - set: {lr: 0.3}\n")),
    ),
    c(
        "suite-entry-key-typo",
        *S,
        names=["sett"],
        files=suite(SUITE.replace("set: {lr: 0.2}", "sett: {lr: 0.2}")),
    ),
    c(
        "suite-duplicate-experiment",
        *S,
        names=["one"],
        files=suite(SUITE.replace("  - name: two\n", "  - name: one\n")),
    ),
    c("suite-sweep-not-a-list", *S, names=["lr"], files=suite(SUITE + "sweep:\n  lr: 0.5\n")),
    c(
        "suite-sweep-unknown-key",
        *S,
        names=["lrr"],
        files=suite(SUITE + "sweep:\n  lrr: [0.5, 0.6]\n"),
    ),
    c(
        "suite-subset-names-unknown-experiment",
        *S,
        "--suite",
        "small",
        names=["three"],
        files=suite(SUITE.replace("small: [one]", "small: [three]")),
    ),
    c(
        "suite-set-unknown-key",
        *S,
        names=["lrr"],
        files=suite(SUITE.replace("set: {lr: 0.2}", "set: {lrr: 0.2}")),
    ),
    c(
        "suite-shortcut-option-typo",
        *S,
        "--max-sample",
        "5",
        names=["--max-sample"],
        files=suite(SUITE + "shortcuts:\n  max-samples: lr\n"),
    ),
]

CASES = FILES + SEEDS + OVERRIDES + OPTIONS + SUITES


@pytest.mark.parametrize("x", params(CASES))
def test_run_refuses_hostile_plan_in_one_line(case: Case, x: CliCase) -> None:
    check_cli_case(case, x)
