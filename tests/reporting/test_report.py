"""HTML reports: sections, escaping of every user string, self-contained, atomic."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_helpers import EVIL, Workspace

import trialbook
from trialbook.reporting import render_report, report


class _Page(HTMLParser):
    """Collects section ids, script blocks, external links and visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.scripts = 0
        self.links: list[str] = []
        self.text: list[str] = []
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "section":
            self.sections.append(values.get("id") or "")
        if tag == "script":
            self.scripts += 1
        if tag == "img":
            self.images += 1
            assert (values.get("src") or "").startswith("data:image/png;base64,")
        for key in ("src", "href"):
            if values.get(key):
                self.links.append(values[key] or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def _self_contained(html: str, page: _Page) -> None:
    assert not re.search(r"https?://", html)
    assert all(link.startswith("data:") for link in page.links)
    assert page.scripts == 1  # the sample filter, nothing else


def test_single_run_report_sections(ws: Workspace, tmp_path: Path) -> None:
    out = report(ws.base[0], tmp_path / "run.html", root=ws.root, title="Base, seed 1")
    html = out.read_text(encoding="utf-8")
    page = _parse(html)
    # The data map comes right after the overview, before any long table.
    assert page.sections == [
        "overview",
        "data-map",
        "config",
        "provenance",
        "metrics",
        "evaluations",
    ]
    text = "".join(page.text)
    assert "Base, seed 1" in text
    assert "model.layers" in text
    provenance = html.split('id="provenance"')[1].split("</section>")[0]
    assert "<th>command</th>" in provenance and "<th>python</th>" in provenance
    # Curves for acc and loss, the slice bars, and the data map.
    assert page.images == 4
    # Errors come first in the sample browser.
    rows = re.findall(r'<tr class="(error|ok)">', html)
    assert rows[: rows.count("error")] == ["error"] * rows.count("error") and "ok" in rows
    _self_contained(html, page)


def test_comparison_report_of_two_groups(ws: Workspace, db: trialbook.Store) -> None:
    html = render_report(["base", "treat"], db)
    page = _parse(html)
    assert page.sections == ["entries", "config-differences", "metrics", "significance", "curves"]
    text = "".join(page.text)
    assert "base vs treat" in text
    # Only lr differs: the seed varies inside each group, so it is not a config difference.
    diffs = html.split('id="config-differences"')[1].split("</section>")[0]
    assert re.findall(r"<tr><td>([^<]+)</td>", diffs) == ["lr"]
    # Accuracy 40/60 -> 43/60 over the seeds: +0.05, +7.5%.
    assert "eval.quiz.accuracy" in text and "+0.05 (+7.5%)" in text
    # STATS' Welch test on the two seed groups (or a note when it is not available).
    assert "welch" in text or "No significance test" in text
    _self_contained(html, page)


def test_comparison_without_common_benchmark_notes_why_there_is_no_test(
    ws: Workspace, db: trialbook.Store
) -> None:
    html = render_report([ws.base[0], ws.treat[0]], db, images=False)
    page = _parse(html)
    assert "significance" in page.sections
    assert "curves" not in page.sections  # images=False


def test_every_user_string_is_escaped(ws: Workspace, db: trialbook.Store) -> None:
    for refs in ([ws.evil], [ws.evil, ws.base[0]]):
        html = render_report(refs, db)
        page = _parse(html)
        assert EVIL not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<b>x</b>" not in html
        assert page.scripts == 1
        assert html.count("<script") == 1
        assert EVIL in "".join(page.text)  # shown as text
    single = render_report([ws.evil], db, title=EVIL)
    text = "".join(_parse(single).text)
    # The name, the title, the notes, the config key and value, the sample id and prediction.
    assert text.count(EVIL) >= 7


def test_unknown_reference_writes_nothing(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    with pytest.raises(trialbook.RunNotFoundError, match="no-such-run"):
        report(["no-such-run"], out, root=ws.root)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(trialbook.ConfigError, match="is a folder"):
        report([ws.base[0]], tmp_path, root=ws.root)
    with pytest.raises(trialbook.ConfigError, match="at least one run"):
        report([], out, root=ws.root)


def test_report_of_one_seed_group_lists_its_runs(ws: Workspace, db: trialbook.Store) -> None:
    html = render_report(["base"], db, images=False)
    page = _parse(html)
    assert page.sections == ["entries", "config-differences", "metrics", "significance"]
    entries = html.split('id="entries"')[1].split("</section>")[0]
    assert all(run_id in entries for run_id in ws.base)
    assert "Name a second run or group" in html


def test_run_comparison_lists_the_samples_that_changed(ws: Workspace, db: trialbook.Store) -> None:
    html = render_report([ws.base[0], ws.treat[0]], db, images=False)
    page = _parse(html)
    assert page.sections == [
        "entries",
        "config-differences",
        "metrics",
        "significance",
        "disagreements",
    ]
    block = html.split('id="disagreements"')[1].split("</section>")[0]
    # Baseline seed 1 misses q2, q5, q8, q11, q14, q17; treatment seed 1 misses q0, q4, q9,
    # q14, q19: four regressions (listed first) and five fixes; q14 is wrong in both. Ids
    # sort with their numbers read as numbers (q2 before q11).
    assert "4 right in the baseline only (regressions), 5 right in the treatment only" in block
    ids = re.findall(r'<tr class="(?:error|ok)"><td>([^<]+)</td><td>(\w+)</td>', block)
    assert ids == [
        ("q0", "regression"),
        ("q4", "regression"),
        ("q9", "regression"),
        ("q19", "regression"),
        ("q2", "fix"),
        ("q5", "fix"),
        ("q8", "fix"),
        ("q11", "fix"),
        ("q17", "fix"),
    ]
    # Groups have no single prediction per sample: no such section.
    groups = render_report(["base", "treat"], db, images=False)
    assert "disagreements" not in _parse(groups).sections


def test_sample_browser_is_capped_and_says_how_many_are_hidden(
    ws: Workspace, db: trialbook.Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trialbook.reporting import _html

    monkeypatch.setattr(_html, "MAX_SAMPLES", 3)
    html = render_report([ws.base[0]], db, images=False)
    rows = re.findall(r'<tr class="(error|ok)"><td>([^<]+)</td>', html)
    # Seed 1 of the baseline misses q2, q5, q8, ...: the first three errors by score, then id.
    assert [r[0] for r in rows] == ["error"] * 3
    assert "17 more samples not shown" in html


def test_comparison_tests_every_benchmark_both_sides_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In-distribution and out-of-distribution splits logged as two benchmarks: one test each
    # (it used to be none, with a note asking to choose one).
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    common = {"root": tmp_path, "system_metrics": False, "capture_packages": False}
    for name, ood_hits in (("token", 3), ("hybrid", 27)):
        with trialbook.start_run("arith", {"model": name}, name=name, **common) as run:
            for split, hits in (("test_id", 20), ("test_ood", ood_hits)):
                samples = [
                    {"id": f"{split}{i}", "prediction": "p", "reference": "r", "correct": i < hits}
                    for i in range(30)
                ]
                run.log_evaluation(split, {"metrics": {"accuracy": hits / 30}, "samples": samples})
    with trialbook.open_store(tmp_path) as db:
        text = "".join(_parse(render_report(["token", "hybrid"], db, images=False)).text)
    assert "hybrid is better than token on test_ood accuracy" in text
    assert "on test_id accuracy" in text and "No significance test" not in text


def test_metric_chooses_what_the_comparison_tests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRIALBOOK_STORE", raising=False)
    common = {"root": tmp_path, "system_metrics": False, "capture_packages": False}
    for name, error in (("token", 0.9), ("hybrid", 0.01)):
        with trialbook.start_run("arith", {"model": name}, name=name, **common) as run:
            for split in ("test_id", "test_ood"):
                samples = [
                    {
                        "id": f"{i}",
                        "prediction": "p",
                        "reference": "r",
                        "correct": i % 2 == 0,
                        "relative_error": error + i / 1000,
                    }
                    for i in range(30)
                ]
                metrics = {"exact_match": 0.5, "relative_error": error + 29 / 2000}
                run.log_evaluation(split, {"metrics": metrics, "samples": samples})
    with trialbook.open_store(tmp_path) as db:
        text = "".join(
            _parse(
                render_report(["token", "hybrid"], db, images=False, metric="relative_error")
            ).text
        )
        assert "hybrid is better than token on test_ood relative_error" in text
        assert (
            "on test_id relative_error" in text
            and "exact_match" not in text.split("Significance")[-1]
        )
        with pytest.raises(
            trialbook.ConfigError,
            match=r"the metric .relative_eror.; did you mean .relative_error.\?",
        ):
            render_report(["token", "hybrid"], db, images=False, metric="relative_eror")
    assert not list(tmp_path.glob("*.html"))


def test_sample_tables_show_the_input_cut_with_the_whole_on_expand(tmp_path: Path) -> None:
    long = "Natalia sold clips to 48 of her friends in April, " * 6  # 300 characters
    samples = [
        {
            "id": str(i),
            "input": long if i == 3 else f"question {i}",
            "prediction": "1",
            "reference": "2",
            "correct": False,
        }
        for i in range(1, 13)
    ]
    # A dataset's own name for the input is found too (here SampleResult-less "question").
    other = [
        {
            "id": "a",
            "question": "<b>what?</b>",
            "prediction": "x",
            "reference": "x",
            "correct": True,
        }
    ]
    with trialbook.start_run("inputs", {}, root=tmp_path, system_metrics=False) as run:
        run.log_evaluation("gsm8k", {"metrics": {"accuracy": 0.0}, "samples": samples})
        run.log_evaluation("other", {"metrics": {"accuracy": 1.0}, "samples": other})
    with trialbook.open_store(tmp_path) as db:
        html = render_report([run.id], db, images=False)
    gsm8k = html.split("<h3>gsm8k</h3>")[1].split("<h3>")[0]
    assert "<th>input</th>" in gsm8k
    # Ids that are numbers sort as numbers (all are errors with score 0): 1, 2, ..., 10, 11, 12.
    ids = re.findall(r'<tr class="error"><td>([^<]+)</td>', gsm8k)
    assert ids == [str(i) for i in range(1, 13)]
    # The long input shows its first 120 characters and opens on the whole, without a script.
    cell = gsm8k.split("<td>3</td>")[1].split("</tr>")[0]
    assert f"<details><summary>{long[:120].rstrip()}…</summary>{long}</details>" in cell
    assert "<details>" not in gsm8k.split("<td>4</td>")[1].split("</tr>")[0]
    assert "&lt;b&gt;what?&lt;/b&gt;" in html.split("<h3>other</h3>")[1]
    assert html.count("<script") == 1


def test_inputs_and_ids_are_not_slices() -> None:
    from trialbook.reporting import slices_from_samples
    from trialbook.store import Sample

    samples = [
        Sample(str(i), "1", "1", 1.0, True, {"input": f"q{i % 10}", "uid": f"u{i}", "ops": i % 3})
        for i in range(20)
    ]
    slices = slices_from_samples(samples)
    # "input" is free text (never a slice); "uid" has a value per sample; "ops" is a slice,
    # its values in numeric order.
    assert list(slices) == ["ops"]
    assert list(slices["ops"]) == ["0", "1", "2"]
    # True/false fields are per-sample results (gsm8k's correct_strict), not slices; the
    # fields a benchmark declared (SampleResult.fields, stored as extra["fields"]) are.
    graded = [
        Sample(str(i), "1", "1", 1.0, True, {"correct_strict": i % 2 == 0, "level": i % 4})
        for i in range(20)
    ]
    assert list(slices_from_samples(graded)) == ["level"]
    assert list(slices_from_samples(graded, ["correct_strict"])) == ["correct_strict"]
    declared = [
        Sample(str(i), "1", "1", 1.0, True, {"fields": {"topic": "ab"[i % 2]}, "level": i % 4})
        for i in range(20)
    ]
    assert list(slices_from_samples(declared)) == ["topic"]


def test_the_data_map_comes_first_with_its_regions_and_counts(tmp_path: Path) -> None:
    import json

    import numpy as np

    from trialbook.reporting import data_map_regions, plot_data_map

    # 5 easy (always right), 2 ambiguous (changing), 3 hard (always wrong) examples.
    probs = [[0.9, 0.9, 0.9]] * 5 + [[0.1, 0.9, 0.1]] * 2 + [[0.1, 0.1, 0.1]] * 3
    with trialbook.start_run("carto", {}, root=tmp_path, system_metrics=False) as run:
        (run.path / "training_dynamics.jsonl").write_text(
            "".join(json.dumps({"id": str(i), "gold_prob": p}) + "\n" for i, p in enumerate(probs)),
            encoding="utf-8",
        )
        samples = [
            {"id": str(i), "prediction": "a", "reference": "b", "correct": False}
            for i in range(600)
        ]
        run.log_evaluation("clinc", {"metrics": {"accuracy": 0.0}, "samples": samples})
    with trialbook.open_store(tmp_path) as db:
        html = render_report([run.id], db)
    page = _parse(html)
    assert page.sections[:2] == ["overview", "data-map"]
    assert html.index('id="data-map"') < html.index('class="samples"')
    regions = html.split('id="data-map"')[1].split("</table>")[0]
    rows = re.findall(
        r'<tr><td>([\w-]+)</td><td class="num">(\d+)</td><td class="num">([\d.%]+)', regions
    )
    assert rows == [
        ("easy-to-learn", "5", "50.0%"),
        ("ambiguous", "2", "20.0%"),
        ("hard-to-learn", "3", "30.0%"),
    ]
    assert "ambiguous at variability ≥ 0.2, else easy-to-learn at confidence ≥ 0.5" in html
    # The figure draws the two boundaries and the counts.
    conf = [sum(p) / 3 for p in probs]
    var = [float(np.std(p)) for p in probs]
    assert data_map_regions(conf, var) == {"easy-to-learn": 5, "ambiguous": 2, "hard-to-learn": 3}
    ax = plot_data_map(conf, var, regions=True).axes[0]
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["ambiguous: 2", "easy-to-learn: 5", "hard-to-learn: 3"]
    assert [round(x, 6) for x in ax.lines[0].get_xdata()] == [0.2, 0.2]  # the variability line
    assert not plot_data_map(conf, var).axes[0].texts  # regions only when asked


def test_a_few_shot_preamble_every_input_shares_is_left_out_of_the_short_text(
    tmp_path: Path,
) -> None:
    preamble = "".join(f"Q: example {i}?\nA: worked answer {i}.\n\n" for i in range(8))
    samples = [
        {
            "id": f"q{i}",
            "input": f"{preamble}Q: how many apples in box {i}?\nA:",
            "prediction": "1",
            "reference": "2",
            "correct": False,
        }
        for i in range(3)
    ]
    with trialbook.start_run("fewshot", {}, root=tmp_path, system_metrics=False) as run:
        run.log_evaluation("gsm8k", {"metrics": {"accuracy": 0.0}, "samples": samples})
    with trialbook.open_store(tmp_path) as db:
        html = render_report([run.id], db, images=False)
    full = f"{preamble}Q: how many apples in box 1?\nA:"
    # What differs from row to row is shown; the whole prompt opens on a click.
    assert f"<details><summary>…Q: how many apples in box 1?\nA:</summary>{full}</details>" in html
