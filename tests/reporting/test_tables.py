"""Markdown and LaTeX tables: exact strings, escaping, booktabs rules."""

from __future__ import annotations

import math
import re
from html import unescape

import pandas as pd
import pytest

from trialbook.errors import ConfigError
from trialbook.reporting import (
    latex_escape,
    markdown_escape,
    summary_table,
    to_latex,
    to_markdown,
)


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"run_name": ["a|b", "50% & #1"], "acc": [0.81234, math.nan], "n": [3, 1]})


def test_markdown_exact() -> None:
    assert to_markdown(_frame()) == (
        "| run_name | acc | n |\n"
        "| --- | ---: | ---: |\n"
        "| a\\|b | 0.812 | 3 |\n"
        "| 50% & #1 |  | 1 |\n"
    )


def test_markdown_digits_and_index() -> None:
    frame = pd.DataFrame({"acc": [0.5]}, index=pd.Index(["x"], name="run"))
    expected = "| run | acc |\n| --- | ---: |\n| x | 0.5 |\n"
    assert to_markdown(frame, digits=1, index=True) == expected


def test_latex_exact_booktabs_and_escaped() -> None:
    assert to_latex(_frame()) == (
        "\\begin{tabular}{lrr}\n"
        "\\toprule\n"
        "run\\_name & acc & n \\\\\n"
        "\\midrule\n"
        "a\\textbar{}b & 0.812 & 3 \\\\\n"
        "50\\% \\& \\#1 &  & 1 \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n"
    )


def test_latex_table_environment_with_caption_and_label() -> None:
    text = to_latex(pd.DataFrame({"x": [1]}), caption="Top_1 results", label="tab:main")
    assert text.splitlines() == [
        "\\begin{table}[t]",
        "\\centering",
        "\\begin{tabular}{r}",
        "\\toprule",
        "x \\\\",
        "\\midrule",
        "1 \\\\",
        "\\bottomrule",
        "\\end{tabular}",
        "\\caption{Top\\_1 results}",
        "\\label{tab:main}",
        "\\end{table}",
    ]


def test_latex_escape_every_special_character() -> None:
    assert latex_escape(r"\ & % $ # _ { } ~ ^") == (
        r"\textbackslash{} \& \% \$ \# \_ \{ \} \textasciitilde{} \textasciicircum{}"
    )


def test_summary_table_from_seed_groups_in_markdown_and_latex() -> None:
    groups = pd.DataFrame(
        {
            "group": ["g1", "g2"],
            "experiment": ["base", "treat"],
            "name": ["b", "t"],
            "n": [3, 1],
            "eval.quiz.accuracy.mean": [0.6, 0.8],
            "eval.quiz.accuracy.std": [0.05, math.nan],
        }
    )
    table = summary_table(groups, ["accuracy"])
    assert to_markdown(table) == (
        "| experiment | name | n | eval.quiz.accuracy |\n"
        "| --- | --- | ---: | --- |\n"
        "| base | b | 3 | 0.600 ± 0.050 |\n"
        "| treat | t | 1 | 0.800 |\n"
    )
    assert "0.600 $\\pm$ 0.050" in to_latex(table)


# -- issue 9: hostile names stay text -----------------------------------------------------------


def test_markdown_cells_and_headings_never_become_html_or_markup() -> None:
    frame = pd.DataFrame(
        {
            "<img src=x onerror=alert(1)>": ["<script>alert(1)</script>", "[x](javascript:y)"],
            "acc": ["two\nlines | cell", "*bold* _em_ `code` ~~s~~ a\\|b &lt;"],
        }
    )
    text = to_markdown(frame)
    lines = text.splitlines()
    assert len(lines) == 4  # header, rule, two rows: the newline did not end a row
    assert "<" not in text and ">" not in text
    assert lines[0] == "| &lt;img src=x onerror=alert(1)&gt; | acc |"
    assert lines[2] == "| &lt;script&gt;alert(1)&lt;/script&gt; | two\\\\nlines \\| cell |"
    assert lines[3] == (
        "| \\[x\\](javascript:y) | "
        "\\*bold\\* \\_em\\_ \\`code\\` \\~\\~s\\~\\~ a\\\\\\|b &amp;lt; |"
    )
    # Every unescaped pipe is a cell border: three per row, as many as the header's.
    assert all(re.subn(r"(?<!\\)\|", "", line)[1] == 3 for line in lines)


def test_markdown_keeps_plain_names_readable() -> None:
    assert markdown_escape("run_name 50% & #1 lr=1e-4") == "run_name 50% & #1 lr=1e-4"


def test_a_markdown_renderer_shows_hostile_names_as_text() -> None:
    # markdown-it-py (rich's own dependency) with raw HTML allowed, as GitHub and most
    # Markdown viewers allow it: an unescaped name would come out as a tag.
    from markdown_it import MarkdownIt

    names = ["<script>alert(1)</script>", "a|b\nc", "[x](javascript:y)", "**b** <b>", "a\\"]
    frame = pd.DataFrame({"<i>run</i>": names, "acc": [0.5] * len(names)})
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    html = md.render(to_markdown(frame))
    assert html.count("<tr>") == 1 + len(names)
    assert html.count("<td") == 2 * len(names)
    for tag in ("<script", "<b>", "<i>", "<a ", "<strong>"):
        assert tag not in html
    shown = [unescape(c) for c in re.findall(r"<t[dh](?: [^>]*)?>(.*?)</t[dh]>", html)]
    assert shown[0] == "<i>run</i>"
    assert shown[2::2] == [
        "<script>alert(1)</script>",
        "a|b\\nc",
        "[x](javascript:y)",
        "**b** <b>",
        "a\\",
    ]


def test_latex_escapes_control_characters_and_refuses_a_bad_label() -> None:
    text = to_latex(pd.DataFrame({"run": ["a\n\nb <c>"]}))
    assert "a\\textbackslash{}n\\textbackslash{}nb \\textless{}c\\textgreater{}" in text
    with pytest.raises(ConfigError, match=r"LaTeX label 'tab:a}b' .* such as 'tab:main'"):
        to_latex(pd.DataFrame({"x": [1]}), label="tab:a}b")


def test_a_leaderboard_frame_renders_its_unranked_rows_with_an_empty_rank() -> None:
    import pandas as pd

    from trialbook.reporting import to_latex, to_markdown

    # rank is a nullable integer: <NA> for the entries listed apart (one-run groups).
    board = pd.DataFrame(
        {
            "rank": pd.array([1, None], dtype="Int64"),
            "entry": ["a", "quick"],
            "note": ["", "one run"],
        }
    )
    assert to_markdown(board).splitlines()[2:] == ["| 1 | a |  |", "|  | quick | one run |"]
    assert "NA" not in to_latex(board)
