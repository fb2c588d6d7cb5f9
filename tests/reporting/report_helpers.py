"""Names shared by the reporting tests (a module of its own: every test folder has a
conftest, so ``from conftest import`` would be ambiguous)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

EVIL = "<script>alert(1)</script>"


@dataclass(frozen=True)
class Workspace:
    root: Path
    base: list[str]  # run ids of the baseline group (seeds 1..3)
    treat: list[str]  # run ids of the treatment group
    evil: str  # run id of the run named EVIL
