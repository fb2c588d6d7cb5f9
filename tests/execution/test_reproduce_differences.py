"""What reproduce --check lists as possible causes of a mismatch."""

from __future__ import annotations

from typing import Any

from trialbook.execution._reproduce import environment_differences


def meta(commit: str | None, dirty: bool = False, **packages: str) -> dict[str, Any]:
    return {
        "git": None if commit is None else {"commit": commit, "dirty": dirty},
        "environment": {"python": {"version": "3.11.7"}, "packages": packages},
        "host": "h",
    }


def test_same_environment_lists_nothing() -> None:
    assert environment_differences(meta("abc", numpy="2.0"), meta("abc", numpy="2.0")) == []


def test_commit_dirty_tree_and_packages_are_listed() -> None:
    lines = environment_differences(
        meta("abc", numpy="2.0", torch="2.1"), meta("def", True, numpy="2.1")
    )

    assert "git commit: abc -> def" in lines
    assert any(line.startswith("git work tree dirty: False -> True") for line in lines)
    assert "package numpy: 2.0 -> 2.1" in lines
    assert "package torch: 2.1 -> not installed" in lines


def test_missing_git_or_packages_is_said_not_taken_for_sameness() -> None:
    lines = environment_differences(meta(None, numpy="2.0"), meta(None))

    assert any("no commit recorded for either run" in line for line in lines)
    assert "installed packages: not recorded for both runs, so not compared" in lines
    one = environment_differences(meta("abc", numpy="2.0"), meta(None, numpy="2.0"))
    assert any("no commit recorded for one run" in line for line in one)
