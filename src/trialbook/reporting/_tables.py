"""Markdown and LaTeX (booktabs) tables for papers, from any DataFrame or from seed groups.

Hand-written rather than ``DataFrame.to_markdown`` / ``Styler.to_latex`` so the output is exact
and stable across pandas versions (the former also needs ``tabulate``), and so every cell is
escaped the same way: a run named ``<script>alert(1)</script>`` or ``a | b`` is text in the
rendered table, never markup, and a newline cannot end a row (control characters are written
as visible escapes, ``\\n``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trialbook._format import fmt_mean_std, printable
from trialbook.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "format_cell",
    "latex_escape",
    "markdown_escape",
    "summary_table",
    "to_latex",
    "to_markdown",
]

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    # Not special, but printed as other glyphs (¡ ¿ —) in LaTeX's default OT1 font encoding.
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_LATEX_RE = re.compile("|".join(re.escape(k) for k in _LATEX_SPECIAL))
# A label is a name LaTeX reads verbatim: these would end it or start a command.
_LATEX_LABEL_BAD = re.compile(r"[\\{}%#$&~^\s]")

# Backslash, code spans, emphasis, links/images, GFM tables and strikethrough; an underscore
# only at a word's edge (inside a word, as in run_name, GFM never reads it as emphasis).
_MARKDOWN_RE = re.compile(r"[\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
# '&' only where it would start a character reference (&lt;), so that '50% & #1' stays as is.
_ENTITY_RE = re.compile(r"&(?=#?[0-9A-Za-z]+;)")


def format_cell(value: Any, digits: int = 3) -> str:
    """A cell as text: floats with ``digits`` decimals, NaN/None/<NA> as an empty cell."""
    # pandas' missing value (a leaderboard's unranked rows) without importing pandas here.
    if value is None or type(value).__name__ == "NAType":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        if math.isnan(number):
            return ""
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return f"{number:.{digits}f}"
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(v, digits) for v in value)
    return str(value)


def _rows(df: pd.DataFrame, digits: int, index: bool) -> tuple[list[str], list[list[str]]]:
    header = ([str(df.index.name or "")] if index else []) + [str(c) for c in df.columns]
    rows = []
    for idx, row in zip(df.index, df.itertuples(index=False), strict=True):
        cells = [format_cell(v, digits) for v in row]
        rows.append(([format_cell(idx, digits)] if index else []) + cells)
    return header, rows


def _numeric(df: pd.DataFrame) -> list[bool]:
    import pandas as pd

    return [pd.api.types.is_numeric_dtype(df[c]) for c in df.columns]


def markdown_escape(text: str) -> str:
    """``text`` as literal text in a Markdown table cell or heading: control characters as
    visible escapes, ``<`` ``>`` (and ``&`` starting a reference) as HTML entities, and the
    characters Markdown reads as syntax (``\\ ` * _ [ ] | ~``) backslash-escaped.

    >>> print(markdown_escape("<b>x</b> | [y](javascript:z)"))
    &lt;b&gt;x&lt;/b&gt; \\| \\[y\\](javascript:z)
    """
    text = _ENTITY_RE.sub("&amp;", printable(text))
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN_RE.sub(lambda m: "\\" + m.group(), text)


def to_markdown(df: pd.DataFrame, *, digits: int = 3, index: bool = False) -> str:
    """A GitHub-flavoured Markdown table; numeric columns right-aligned, every cell and
    heading escaped with :func:`markdown_escape`.

    >>> import pandas as pd
    >>> print(to_markdown(pd.DataFrame({"run": ["a"], "acc": [0.5]})), end="")
    | run | acc |
    | --- | ---: |
    | a | 0.500 |
    """
    header, rows = _rows(df, digits, index)
    align = ([False] if index else []) + _numeric(df)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(markdown_escape(c) for c in cells) + " |"

    rule = "| " + " | ".join("---:" if a else "---" for a in align) + " |"
    return "\n".join([line(header), rule, *(line(r) for r in rows)]) + "\n"


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (``_ % & # $ { } ~ ^ \\``, and
    ``< > |``, which the default font prints as other glyphs); control characters are
    written as visible escapes (a newline in a cell would otherwise end its paragraph)."""
    return _LATEX_RE.sub(lambda m: _LATEX_SPECIAL[m.group()], printable(text))


def to_latex(
    df: pd.DataFrame,
    *,
    digits: int = 3,
    index: bool = False,
    caption: str | None = None,
    label: str | None = None,
) -> str:
    """A booktabs ``tabular`` (``\\toprule``, ``\\midrule``, ``\\bottomrule``; needs
    ``\\usepackage{booktabs}``); every cell escaped. With ``caption`` or ``label`` it is wrapped
    in a ``table`` environment.

    >>> import pandas as pd
    >>> print(to_latex(pd.DataFrame({"run_name": ["a&b"], "acc": [0.5]})), end="")
    \\begin{tabular}{lr}
    \\toprule
    run\\_name & acc \\\\
    \\midrule
    a\\&b & 0.500 \\\\
    \\bottomrule
    \\end{tabular}
    """
    if label is not None and (not label or _LATEX_LABEL_BAD.search(label)):
        raise ConfigError(
            f"LaTeX label {label!r} is empty or holds a space or one of \\ {{ }} % # $ & ~ ^; "
            "use letters, digits and : - _ . such as 'tab:main'."
        )
    header, rows = _rows(df, digits, index)
    align = ([False] if index else []) + _numeric(df)
    spec = "".join("r" if a else "l" for a in align)

    def line(cells: Sequence[str]) -> str:
        # "±" from summary_table is not in every LaTeX font; math mode always has it.
        return " & ".join(latex_escape(c).replace("±", r"$\pm$") for c in cells) + r" \\"

    body = [
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        line(header),
        r"\midrule",
        *(line(r) for r in rows),
        r"\bottomrule",
        r"\end{tabular}",
    ]
    if caption is not None or label is not None:
        inner = [r"\begin{table}[t]", r"\centering", *body]
        if caption is not None:
            inner.append(rf"\caption{{{latex_escape(caption)}}}")
        if label is not None:
            inner.append(rf"\label{{{label}}}")
        body = [*inner, r"\end{table}"]
    return "\n".join(body) + "\n"


def summary_table(
    groups_df: pd.DataFrame, metrics: Sequence[str] | None = None, *, digits: int = 3
) -> pd.DataFrame:
    """A paper-ready frame from :func:`trialbook.seed_groups`: one row per group (experiment,
    name, n) and per metric ``mean ± std`` as text (just the mean for a group of one run).

    ``metrics`` are column names without ``.mean`` (default: every metric in the frame).
    """
    import pandas as pd

    from trialbook.reporting._plots import _mean_column

    bases = [c[: -len(".mean")] for c in groups_df.columns if str(c).endswith(".mean")]
    cols = [_mean_column(groups_df, m) for m in metrics] if metrics else bases
    out = pd.DataFrame()
    for key in ("experiment", "name", "n"):
        if key in groups_df.columns:
            out[key] = groups_df[key].to_list()
    for col in cols:
        stds = groups_df.get(f"{col}.std", [math.nan] * len(groups_df))
        out[col] = [
            fmt_mean_std(
                float(mean),
                None if std is None else float(std),
                digits=digits,
                missing="",
            )
            for mean, std in zip(groups_df[f"{col}.mean"], stds, strict=True)
        ]
    return out  # type: ignore[no-any-return]
