"""Hostile YAML is refused quickly, in one sentence: recursive aliases, alias bombs, endless or
huge files, deep nesting. Each case runs `trialbook run` in a subprocess with a time and
memory limit, so that a regression fails instead of hanging (or swapping) CI."""

from __future__ import annotations

import itertools
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from trialbook.config._load import (
    MAX_ALIAS_EXPANSION,
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    parse_yaml,
)
from trialbook.errors import ConfigError

#: Generous for a refusal that takes milliseconds; a regression (a bomb expanded, /dev/zero
#: read to the end) takes minutes, and hits the memory cap sooner.
TIMEOUT = 60
MEMORY = 1 << 30


def _bomb(levels: int = 9, fan: int = 9) -> str:
    """The classic "billion laughs": each anchor lists the previous one ``fan`` times."""
    lines = ["a: &a [" + ",".join(['"lol"'] * fan) + "]"]
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    for prev, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * fan) + "]")
    return "\n".join(lines) + "\n"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def _run(tmp_path: Path, config: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    return subprocess.run(
        [sys.executable, "-m", "trialbook", "run", config, "--root", "ws", *extra],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        preexec_fn=_limit_memory,
    )


CASES = {
    "recursive alias in a list": ("a: &a [*a]\n", "contains an alias to itself"),
    "recursive alias in a mapping": ("a: &a {b: {c: *a}}\n", "contains an alias to itself"),
    "alias bomb": (_bomb(), f"more than {MAX_ALIAS_EXPANSION:,} values"),
    "deep flow lists": ("a: " + "[" * 5000 + "]" * 5000 + "\n", f"deeper than {MAX_DEPTH}"),
    "deep block mappings": (
        "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * 105 + "v: 1\n",
        f"deeper than {MAX_DEPTH}",
    ),
    "deep through aliases": (
        "a: &a [[[[[[[[[[1]]]]]]]]]]\n"
        + "".join(
            f"{n}{i}: &{n}{i} [[[[[[[[[[*{p}]]]]]]]]]]\n"
            for i, (n, p) in enumerate([("b", "a")] + [("b", f"b{j}") for j in range(12)], start=0)
        ),
        "through its aliases",
    ),
    "over the size limit": ("x: '" + "a" * (MAX_CONFIG_BYTES + 10) + "'\n", "larger than 10 MB"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_hostile_yaml_is_one_sentence_and_exit_2(tmp_path: Path, case: str, dry_run: bool) -> None:
    text, said = CASES[case]
    (tmp_path / "hostile.yaml").write_text(text, encoding="utf-8")
    result = _run(tmp_path, "hostile.yaml", *(["--dry-run"] if dry_run else []))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0] and "hostile.yaml" in lines[0], lines
    assert not (tmp_path / "ws").exists()  # no workspace, no database


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_an_endless_file_is_refused_after_the_size_limit(tmp_path: Path) -> None:
    result = _run(tmp_path, "/dev/zero")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: Config file /dev/zero is larger than 10 MB; a config holds settings, so keep "
        "large data in files the config names by path."
    )
    assert not (tmp_path / "ws").exists()


def test_the_recursive_alias_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^x\.yaml:2:6: this anchor"):
        parse_yaml("ok: 1\nbad: &b\n  - *b\n", Path("x.yaml"))


def test_nesting_up_to_the_limit_and_shared_anchors_still_load() -> None:
    deep = "a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n"
    value = parse_yaml(deep).data["a"]
    for _ in range(MAX_DEPTH - 2):
        value = value[0]
    assert value == [1]
    shared = """\
defaults: &defaults {lr: 0.1, layers: [64, 64]}
small: {<<: *defaults, lr: 0.01}
large: *defaults
lists: [*defaults, *defaults, *defaults]
"""
    data = parse_yaml(shared).data
    assert data["small"] == {"lr": 0.01, "layers": [64, 64]}
    assert data["large"] == data["lists"][2] == {"lr": 0.1, "layers": [64, 64]}
    # A small bomb, under the limit, is just a config.
    assert len(parse_yaml(_bomb(levels=4, fan=9)).data["d"]) == 9


# --------------------------------------------------------------------------- seeds and integers
BASE = "experiment: {name: e, entrypoint: 'tasks:main'}\nseed: 1\nsteps: 10\n"
BIG = "99999999999999999999999"

SEED_CASES = {
    "negative --seeds": (BASE, ["--seeds", "-5"], "--seeds: seed -5 is out of range"),
    "--seeds above 2**32-1": (BASE, ["--seeds", "4294967296"], "seed 4294967296 is out of range"),
    "--seeds beyond 64 bits": (BASE, ["--seeds", BIG], f"seed {BIG} is out of range"),
    "negative seed in the file": (
        BASE.replace("seed: 1", "seed: -1"),
        [],
        "config.yaml (line 2): seed -1 is out of range",
    ),
    "seed beyond 64 bits in the file": (
        BASE.replace("seed: 1", f"seed: {BIG}"),
        [],
        f"In config.yaml (line 2), seed = {BIG} does not fit in 64 bits",
    ),
    "suite seeds out of range": (
        None,
        [],
        "suite.yaml (line 3): seed 4294967296 is out of range",
    ),
    "an integer beyond 64 bits in a list": (
        BASE + f"schedule: {{steps: [1, {BIG}]}}\n",
        [],
        f"In config.yaml (line 4), schedule.steps[1] = {BIG} does not fit in 64 bits",
    ),
    "a 5000-digit integer": (
        BASE + "huge: " + "7" * 5000 + "\n",
        [],
        "In config.yaml (line 4), huge is an integer of 5000 digits",
    ),
    "an override beyond 64 bits": (
        BASE,
        [f"steps={BIG}"],
        f"In override 'steps={BIG}', the value = {BIG} does not fit in 64 bits",
    ),
    "a seed override out of range": (BASE, ["seed=-3"], "config.yaml (line 2): seed -3"),
}


@pytest.mark.parametrize("case", list(SEED_CASES))
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_bad_seeds_and_huge_integers_are_refused_while_planning(
    tmp_path: Path, case: str, dry_run: bool
) -> None:
    text, args, said = SEED_CASES[case]
    (tmp_path / "config.yaml").write_text(BASE if text is None else text, encoding="utf-8")
    (tmp_path / "suite.yaml").write_text(
        "suite: s\nbase: config.yaml\nseeds: [1, 4294967296]\n", encoding="utf-8"
    )
    target = "suite.yaml" if text is None else "config.yaml"
    result = _run(tmp_path, target, *args, *(["--dry-run"] if dry_run else []))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and said in lines[0], lines
    assert not (tmp_path / "ws").exists()  # no workspace, database or run folder
