"""One rule for "the same config value", shared by the config hash, sweeps, change reports and
``~key=value`` overrides: a whole float is the integer (1 and 1.0), a boolean is not a number
(true is not 1), NaN is NaN."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trialbook.config import (
    apply_overrides,
    config_hash,
    format_changes,
    plan_runs,
    same_setting,
    suite_shortcuts,
)
from trialbook.errors import ConfigError

Write = Callable[[str, str], Path]

BASE = "experiment:\n  name: base\nlr: 1\nsteps: 3\n"

PAIRS: list[tuple[Any, Any, bool]] = [
    (1, 1.0, True),
    (1, True, False),
    (1.0, True, False),
    (0, False, False),
    (1, "1", False),
    (math.nan, math.nan, True),
    (math.inf, math.inf, True),
    (2.5, 2.5, True),
    (None, None, True),
    ({"a": 1, "b": 2.0}, {"b": 2, "a": 1.0}, True),
    ([1, 2], [1.0, 2.0], True),
    ([1, 2], [2, 1], False),
    ([1], [True], False),
]


@pytest.mark.parametrize(("a", "b", "same"), PAIRS, ids=[f"{a!r}-{b!r}" for a, b, _ in PAIRS])
def test_same_setting_is_what_the_config_hash_says(a: Any, b: Any, same: bool) -> None:
    assert same_setting(a, b) is same
    assert same_setting(b, a) is same
    assert (config_hash({"k": a}) == config_hash({"k": b})) is same


def test_a_sweep_listing_one_setting_twice_is_refused_in_one_sentence(write: Write) -> None:
    write("base.yaml", BASE)
    suite = write("s.yaml", "suite: s\nbase: base.yaml\nsweep:\n  lr: [1, 1.0, true]\n")
    with pytest.raises(ConfigError) as info:
        plan_runs([suite])
    assert str(info.value) == (
        f"In {suite} (line 4), the sweep over lr lists 1 and 1.0, which are the same setting; "
        "list each value once (1 and 1.0 are one setting, true is not 1)."
    )


def test_a_sweep_over_one_and_true_keeps_both(write: Write) -> None:
    write("base.yaml", BASE)
    suite = write("s.yaml", "suite: s\nbase: base.yaml\nsweep:\n  lr: [1, true, '1']\n")
    plan = plan_runs([suite])
    assert [run.config["lr"] for run in plan.runs] == [1, True, "1"]
    assert len({run.config_hash for run in plan.runs}) == 3
    assert plan.notes == ()


def test_setting_a_whole_float_over_the_integer_is_no_change(write: Write) -> None:
    write("base.yaml", BASE)
    suite = write(
        "s.yaml",
        "suite: s\nbase: base.yaml\nexperiments:\n"
        "  - {name: same, set: {lr: 1.0}}\n"
        "  - {name: flag, set: {lr: true}}\n",
    )
    same, flag = plan_runs([suite]).runs
    assert same.changes == {} and format_changes(same) == ""
    assert flag.changes == {"lr": (1, True)} and format_changes(flag) == "lr: 1 -> true"


def test_a_conditional_remove_uses_the_same_rule() -> None:
    assert apply_overrides({"lr": 1.0, "x": 0}, ["~lr=1"]) == {"x": 0}
    with pytest.raises(ConfigError, match=r"removes 'lr' only if its value is true, but it is 1"):
        apply_overrides({"lr": 1}, ["~lr=true"])


# --- shortcuts may not take the caller's own option names ---------------------------------


def test_a_shortcut_named_like_a_reserved_option_is_refused(write: Write) -> None:
    write("base.yaml", BASE)
    suite = write("s.yaml", "suite: s\nbase: base.yaml\nshortcuts: {jobs: steps}\n")
    with pytest.raises(ConfigError) as info:
        suite_shortcuts([suite], reserved=["jobs", "seeds"])
    assert str(info.value) == (
        f"In {suite} (line 3), the shortcut jobs has the name of one of the command's own "
        "options; choose another name."
    )
    assert info.value.parameter == "reserved" and info.value.value == "jobs"
    # Python has no options to shadow: the same suite plans.
    (run,) = plan_runs([suite], shortcut_values={"jobs": "7"}).runs
    assert run.config["steps"] == 7


def test_the_cli_refuses_a_shortcut_named_like_one_of_its_options(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "s.yaml").write_text(
        "suite: s\nbase: base.yaml\nshortcuts: {jobs: steps}\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIALBOOK_")}
    result = subprocess.run(
        [sys.executable, "-m", "trialbook", "run", "s.yaml", "--root", "ws", "--dry-run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: In s.yaml (line 3), the shortcut jobs has the name of one of the command's own "
        "options; choose another name."
    ]
    assert not (tmp_path / "ws").exists()
