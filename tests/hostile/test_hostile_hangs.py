"""Inputs that could hang, crash or exhaust memory. Each runs ``trialbook`` in a child process
with 2 GB of address space and a deadline of a few seconds: each must end at once with one
``error:`` line and exit 2, having written nothing."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile_helpers import (
    SCRIPTED,
    Base,
    Outcome,
    Snapshot,
    assert_one_line_error,
    assert_unchanged,
    copy_workspace,
    finish_child,
    snapshot,
    start_child,
)

#: Long enough for Python to start and import trialbook on a loaded 2-core machine; the issue
#: asks for these to be refused "in well under a second".
DEADLINE = 3.0

HEAD = "experiment:\n  name: bomb\n  command: python -c pass\n"
LAUGHS = (
    HEAD
    + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{n}: &{n} [{','.join(['*' + p] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


def text(content: str) -> Callable[[Path], list[str]]:
    def make(tmp: Path) -> list[str]:
        (tmp / "exp.yaml").write_text(content, encoding="utf-8")
        return ["run", str(tmp / "exp.yaml")]

    return make


def fifo(tmp: Path) -> list[str]:
    os.mkfifo(tmp / "exp.yaml")
    return ["run", str(tmp / "exp.yaml")]


def suite_cycle(tmp: Path) -> list[str]:
    (tmp / "a.yaml").write_text("suite: a\nbase: b.yaml\n", encoding="utf-8")
    (tmp / "b.yaml").write_text("suite: b\nbase: a.yaml\n", encoding="utf-8")
    return ["run", str(tmp / "a.yaml")]


def args(*words: str) -> Callable[[Path], list[str]]:
    return lambda tmp: list(words)


@dataclass(frozen=True)
class Hang:
    id: str
    make: Callable[[Path], list[str]]  # writes the inputs into the case folder; the arguments
    names: tuple[str, ...]
    xfail: str | None = None


CASES = [
    Hang("recursive-alias", text(HEAD + "a: &a [*a]\n"), ("exp.yaml",)),
    Hang("recursive-mapping-alias", text(HEAD + "a: &a {b: *a}\n"), ("exp.yaml",)),
    Hang("alias-bomb-389-bytes", text(LAUGHS), ("exp.yaml",)),
    Hang("nested-5000-deep", text(HEAD + "a: " + "[" * 5000 + "]" * 5000 + "\n"), ("exp.yaml",)),
    Hang("config-over-10-mb", text(SCRIPTED + "# padding\n" * 1_100_000), ("exp.yaml",)),
    Hang("dev-zero", args("run", "/dev/zero"), ("/dev/zero",)),
    Hang("fifo-without-writer", fifo, ("exp.yaml",)),
    Hang("suite-bases-in-a-cycle", suite_cycle, ("a.yaml",)),
    Hang(
        "evaluate-predictions-dev-zero",
        args("evaluate", "gsm8k", "-n", "1", "--predictions", "/dev/zero"),
        ("/dev/zero",),
    ),
    Hang(
        "evaluate-jsonl-data-dev-zero",
        args("evaluate", "jsonl", "--data", "/dev/zero", "--model", "python:json:dumps"),
        ("/dev/zero",),
    ),
    Hang(
        "significance-a-billion-resamples",
        args("significance", "alpha", "beta", "--test", "bootstrap", "--resamples", "1000000000"),
        ("1,000,000,000",),
    ),  # the message writes numbers with thousands separators
    Hang(
        "significance-permutation-a-billion-resamples",
        args("significance", "alpha", "beta", "--test", "permutation", "--resamples", "1000000000"),
        ("1,000,000,000",),
    ),
]


@dataclass(frozen=True)
class Ended:
    outcome: Outcome | None  # None: still running at the deadline (then killed)
    before: Snapshot
    after: Snapshot


@pytest.fixture(scope="module")
def ended(base: Base, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Ended]:
    """Every case run once, each in its own folder with a copy of the workspace. One after
    the other: on two cores, children that spin would starve the others past the deadline."""
    results = {}
    for case in CASES:
        tmp = tmp_path_factory.mktemp(case.id)
        copy_workspace(base.root, tmp / "ws")
        words = case.make(tmp)
        out = tmp_path_factory.mktemp(f"{case.id}-output")
        before = snapshot(tmp, base.root)
        child = start_child([*words, "--root", tmp / "ws"], cwd=tmp, out=out)
        outcome = finish_child(child, out, time.monotonic() + DEADLINE)
        results[case.id] = Ended(outcome, before, snapshot(tmp, base.root))
    return results


@pytest.mark.parametrize(
    "x",
    [
        pytest.param(
            x, id=x.id, marks=[pytest.mark.xfail(strict=True, reason=x.xfail)] if x.xfail else []
        )
        for x in CASES
    ],
)
def test_input_that_could_hang_or_explode_is_refused_at_once(
    ended: dict[str, Ended], x: Hang
) -> None:
    result = ended[x.id]
    assert result.outcome is not None, f"still running after {DEADLINE} s (killed)"
    assert_one_line_error(result.outcome, *x.names)
    assert_unchanged(result.before, result.after)
