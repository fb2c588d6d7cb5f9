"""docs/reports.md: its Python examples run, in order, and their assertions hold."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "reports.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


@pytest.mark.slow  # builds a workspace of eight runs and draws every plot (~5 s)
def test_examples_run_in_order_and_print_what_they_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(BLOCKS) >= 5
    monkeypatch.chdir(tmp_path)
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for i, code in enumerate(BLOCKS):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{DOC}#example{i}", "exec"), namespace)
        # Lines shown as "# ..." comments right after a print are its exact output.
        shown = [line[2:] for line in code.splitlines() if line.startswith("# |")]
        if shown:
            assert out.getvalue().splitlines() == shown
    assert (tmp_path / "experiments" / "results.csv").is_file()
    assert "Data map" in (tmp_path / "cartography.html").read_text(encoding="utf-8")
