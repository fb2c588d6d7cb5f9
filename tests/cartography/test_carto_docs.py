"""docs/cartography.md: its Python examples run in order and print what they show.

The Hugging Face block is fenced ``py`` (not run): it needs a model and accelerate;
test_carto_hf.py drives the same callback.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "cartography.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S)


def test_examples_run_in_order_and_print_what_they_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(BLOCKS) == 4
    monkeypatch.chdir(tmp_path)
    for name in ("TRIALBOOK_ROOT", "TRIALBOOK_STORE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRIALBOOK_SYSTEM_METRICS", "0")
    namespace: dict[str, object] = {"__name__": "docs_example"}
    for i, code in enumerate(BLOCKS):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{DOC}#example{i}", "exec"), namespace)
        shown = [line[4:] for line in code.splitlines() if line.startswith("# | ")]
        assert out.getvalue().splitlines() == shown
    assert (tmp_path / "clusters" / "cluster_assignments.csv").is_file()


def test_troubleshooting_text_is_what_the_library_says(tmp_path: Path) -> None:
    from trialbook.cartography import load_clusters, load_metrics
    from trialbook.errors import ConfigError

    text = " ".join(DOC.read_text(encoding="utf-8").split())
    for call, arg in ((load_metrics, "cartography_output"), (load_clusters, "clusters")):
        with pytest.raises(ConfigError) as e:
            call(arg)
        assert f"error: {e.value}" in text
