"""Markdown and LaTeX tables: exact strings, escaping, booktabs rules."""

from __future__ import annotations

import math

import pandas as pd

from trialbook.reporting import latex_escape, summary_table, to_latex, to_markdown


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
        "a|b & 0.812 & 3 \\\\\n"
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
