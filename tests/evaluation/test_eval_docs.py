"""docs/evaluation.md: its Python examples run, in order, and their assertions hold."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trialbook.evaluation import BenchmarkRegistry

DOC = Path(__file__).resolve().parents[2] / "docs" / "evaluation.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_examples_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(BLOCKS) >= 6
    monkeypatch.chdir(tmp_path)
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    namespace: dict[str, object] = {"__name__": "docs_example"}
    try:
        for i, code in enumerate(BLOCKS):
            exec(compile(code, f"{DOC}#example{i}", "exec"), namespace)
    finally:
        BenchmarkRegistry.unregister("my_benchmark")
    assert (tmp_path / "experiments" / "trialbook.db").is_file()
