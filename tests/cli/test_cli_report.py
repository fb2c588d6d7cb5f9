"""``trialbook report`` and ``trialbook analyze`` on the CLI workspace (alpha, beta, gamma)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from cli_helpers import Cli, Runs, assert_user_error, store_option

#: The tests of ``ws`` run on a SQLite and on a PostgreSQL index (see conftest.py).
WS_STORES = ("sqlite", "postgresql")


def test_report_of_one_run_writes_html(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    out = tmp_path / "alpha.html"
    result = cli("report", ws.a.id, "--out", out, "--title", "Alpha", "--root", ws.root)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"wrote {out}"
    html = out.read_text(encoding="utf-8")
    assert "<title>Alpha</title>" in html and 'id="evaluations"' in html


def test_report_compare_two_runs(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    out = tmp_path / "cmp.html"
    result = cli("--root", ws.root, "report", "alpha", "beta", "--out", out)
    assert result.exit_code == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert 'id="config-differences"' in html and "optimizer" in html


def test_report_markdown_and_latex_tables(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    result = cli("report", "alpha", "beta", "--format", "md", "--root", ws.root)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ("| entry | n | eval.gsm8k.accuracy | metrics.acc | metrics.loss |")
    assert lines[2] == "| alpha | 1 | 0.750 | 0.900 | 0.300 |"
    assert lines[3] == "| beta | 1 | 0.500 | 0.950 | 0.200 |"
    out = tmp_path / "t.tex"
    result = cli("report", "alpha", "beta", "--format", "latex", "-o", out, "--root", ws.root)
    assert result.exit_code == 0, result.stderr
    tex = out.read_text(encoding="utf-8")
    assert tex.startswith("\\begin{tabular}{lrlll}\n\\toprule\nentry & n & eval.gsm8k.accuracy")
    assert "metrics.acc" in tex and "\\bottomrule" in tex


def test_report_errors_are_sentences_and_write_nothing(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert_user_error(cli("report", "nope", "--out", out, "--root", ws.root), "'nope'")
    md = cli("report", ws.a.id, ws.b.id, "--format", "md", "--metric", "acc", "--root", ws.root)
    assert_user_error(md, "--format md prints every metric, so drop --metric")
    assert not out.exists()


def test_an_html_report_without_out_goes_under_the_workspace_and_says_where(
    cli: Cli, ws: Runs
) -> None:
    reports = Path(ws.root) / "reports"
    assert_user_error(cli("report", "nope", "--root", ws.root), "'nope'")
    assert not reports.exists()  # a wrong reference writes nothing, not even the folder
    result = cli("report", "alpha", "beta", "--root", ws.root)
    assert result.exit_code == 0, result.stderr
    path = reports / "alpha_vs_beta.html"
    assert result.stdout == f"wrote {path}\n"
    assert "alpha" in path.read_text(encoding="utf-8")
    one = cli("report", ws.a.id, "--root", ws.root)
    assert one.exit_code == 0, one.stderr
    assert (reports / f"{ws.a.id}.html").is_file()


def test_analyze_writes_the_three_files(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    result = cli("analyze", "--root", ws.root, "--out-dir", tmp_path, "--metric", "acc")
    assert result.exit_code == 0, result.stderr
    assert "Seed groups" in result.stdout and "Experiments" in result.stdout
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "all_results.json",
        "experiment_results.png",
        "experiment_results.svg",
        "results.csv",
    ]
    with (tmp_path / "results.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["name"] for r in rows} == {"alpha", "beta", "gamma"}
    doc = json.loads((tmp_path / "all_results.json").read_text(encoding="utf-8"))
    assert doc["metrics"] == ["metrics.acc"]
    assert len(doc["runs"]) == 3 and doc["groups"]


def test_analyze_default_folder_is_the_workspace_and_experiment_filter(
    cli: Cli, ws: Runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(ws.root, root)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    result = cli("analyze", "--root", root, *store_option(ws), "-e", "baseline", "--show-plots")
    assert result.exit_code == 0, result.stderr
    assert (root / "results.csv").exists() and (root / "all_results.json").exists()
    assert (root / "experiment_results.png").exists()
    assert f"No display to open plots on; the figures are in {root / 'experiment_results.png'}" in (
        result.stdout
    )
    doc = json.loads((root / "all_results.json").read_text(encoding="utf-8"))
    assert {r["experiment"] for r in doc["runs"]} == {"baseline"}
    assert doc["metrics"] == ["eval.gsm8k.accuracy"]


def test_analyze_errors(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    args = ("--root", ws.root, "--out-dir", tmp_path)
    result = cli("analyze", "-e", "baselin", *args)
    assert_user_error(result, "'baselin'", "did you mean 'baseline'")
    assert_user_error(cli("analyze", "--ci", "normal", *args), "'normal'")
    assert_user_error(cli("analyze", "-m", "no_such_metric", *args), "no_such_metric")
    assert list(tmp_path.iterdir()) == []


def test_run_report_lists_params_logged_besides_the_config(
    cli: Cli, ws: Runs, tmp_path: Path
) -> None:
    out = tmp_path / "alpha.html"
    assert cli("report", "alpha", "-o", out, "--root", ws.root).exit_code == 0
    html = out.read_text(encoding="utf-8")
    params = html.split("Other logged parameters")[1].split("</table>")[0]
    # alpha logged batch=32 with run.log_params; lr and optimizer come from its config.
    assert "batch" in params and "optimizer" not in params


def test_unwritable_destinations_are_sentences(cli: Cli, ws: Runs, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = cli("report", "alpha", "-o", blocker / "r.html", "--root", ws.root)
    assert_user_error(result, "Cannot write the report to", "choose another --out")
    result = cli("report", "alpha", "--format", "md", "-o", blocker / "t.md", "--root", ws.root)
    assert_user_error(result, "Cannot write the table to")
    result = cli("analyze", "--root", ws.root, "--out-dir", blocker / "sub")
    assert_user_error(result, "Cannot write the analysis to", "--out-dir")
