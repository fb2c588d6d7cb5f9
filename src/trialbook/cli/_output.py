"""How commands print: rich tables on a terminal, plain aligned text when piped, JSON on request.

Commands describe what to show (headings, key/value fields, tables, text blocks); :class:`Output`
decides how. Rich is imported only when stdout is a terminal, so piped use stays light.

Every string passes through here on its way out, so this is where user text is made safe to
print: control characters (a newline or an escape sequence in a run name) are shown as escapes,
and a table cell longer than :data:`CELL_WIDTH` is cut with an ellipsis, so that a table keeps
one line per row. ``--json`` prints values as they are.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any, Literal, TypeAlias

from trialbook.reporting import clip, fmt_duration, fmt_number, json_text, jsonable, printable

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

__all__ = [
    "CELL_WIDTH",
    "STATUS_STYLES",
    "Cell",
    "Column",
    "Output",
    "Styled",
    "fmt_bytes",
    "fmt_duration",
    "fmt_number",
    "fmt_time",
    "jsonable",
    "print_json",
    "status_cell",
]

STATUS_STYLES: Mapping[str, str] = {
    "completed": "green",
    "running": "cyan",
    "queued": "dim",
    "failed": "red",
    "crashed": "magenta",
    "killed": "yellow",
}


#: The most characters a table cell shows (a 10,000-character run name is cut with an ellipsis);
#: columns that fold (paths, ids, metric lists) and ``show``'s fields keep up to FOLD_WIDTH.
CELL_WIDTH = 100
FOLD_WIDTH = 1000


def status_cell(status: str) -> Styled:
    """A run status coloured as every command shows it."""
    return Styled(status, STATUS_STYLES.get(status))


@dataclass(frozen=True)
class Column:
    """A table column: its header and which side its cells line up on."""

    header: str
    justify: Literal["left", "right"] = "left"
    #: How a cell too wide for the terminal gives way: ``"none"`` (never; other columns
    #: shrink), ``"ellipsis"`` (cut with ...) or ``"fold"`` (wrapped, for paths and ids).
    overflow: Literal["none", "ellipsis", "fold"] = "none"
    #: On a terminal, the narrowest a column that gives way may become.
    min_width: int | None = None


@dataclass(frozen=True)
class Styled:
    """Text with a rich style (``"red"``, ``"bold green"``); the style is dropped in plain text."""

    text: str
    style: str | None = None


Cell: TypeAlias = "str | Styled"


def _plain(cell: Cell) -> str:
    return cell.text if isinstance(cell, Styled) else cell


def _safe(cell: Cell, keep: str = "", width: int | None = None) -> Cell:
    """``cell`` with control characters escaped (but those in ``keep``) and cut to ``width``."""
    text = _plain(cell)
    if text.isprintable() and (width is None or len(text) <= width):
        return cell  # the usual cell, returned without a copy (tables of 10,000 runs)
    text = printable(text, keep)
    if width is not None:
        text = clip(text, width)
    return Styled(text, cell.style) if isinstance(cell, Styled) else text


def _one_line(columns: Sequence[Column], row: Sequence[Cell]) -> list[Cell]:
    return [
        _safe(cell, width=FOLD_WIDTH if col.overflow == "fold" else CELL_WIDTH)
        for col, cell in zip(columns, row, strict=True)
    ]


class Output:
    """Where a command's human-readable results go.

    On a terminal (``rich=None`` and stdout is a TTY) it draws rich tables with colour;
    otherwise it writes plain text with columns aligned by spaces and no escape codes, so that
    ``trialbook ls | grep failed`` and ``| awk`` work.
    """

    def __init__(self, *, rich: bool | None = None, file: IO[str] | None = None) -> None:
        self._file = file
        if rich is None:
            isatty = getattr(self.file, "isatty", None)
            rich = bool(isatty()) if callable(isatty) else False
        self.rich = rich
        self._console: Console | None = None
        self._started = False

    @property
    def file(self) -> IO[str]:
        # Looked up on every write: test runners swap sys.stdout per invocation.
        return self._file if self._file is not None else sys.stdout

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self._file, highlight=False)
        return self._console

    # ----------------------------------------------------------------- building blocks
    def line(self, text: Cell = "") -> None:
        """One line of text (user data is never read as rich markup; control characters but
        tabs are shown as escapes)."""
        text = _safe(text, keep="\t")
        if self.rich:
            self.console.print(self._text(text), soft_wrap=True)
        else:
            self.file.write(_plain(text) + "\n")

    def heading(self, title: str) -> None:
        """A section title, separated from what came before by a blank line."""
        if self._started:
            self.line()
        self._started = True
        self.line(Styled(title, "bold underline") if self.rich else title)

    def fields(self, pairs: Sequence[tuple[str, Cell]], indent: int = 0) -> None:
        """``key  value`` lines with the values lined up, one line each (a newline in a value
        is shown as ``\\n``, like every control character; cut at FOLD_WIDTH)."""
        self._started = True
        if not pairs:
            return
        pairs = [(printable(key), _safe(value, width=FOLD_WIDTH)) for key, value in pairs]
        if self.rich:
            from rich.table import Table

            grid = Table.grid(padding=(0, 2))
            grid.add_column(style="bold", no_wrap=True)
            grid.add_column(overflow="fold")
            for key, value in pairs:
                grid.add_row(self._text(key), self._text(value))
            self._print_indented(grid, indent)
            return
        width = max(len(key) for key, _ in pairs)
        pad = " " * indent
        for key, value in pairs:
            self.file.write(f"{pad}{key.ljust(width)}  {_plain(value)}".rstrip() + "\n")

    def table(
        self,
        columns: Sequence[Column],
        rows: Sequence[Sequence[Cell]],
        indent: int = 0,
        optional: int = 0,
    ) -> None:
        """A table with a header row; cells may carry a style for the terminal.

        On a terminal too narrow for the whole table, up to ``optional`` trailing columns are
        left out before the others are squeezed.
        """
        self._started = True
        columns = [replace(c, header=clip(printable(c.header), CELL_WIDTH)) for c in columns]
        rows = [_one_line(columns, row) for row in rows]
        if self.rich:
            from rich import box
            from rich.table import Table

            keep = len(columns)
            widths = _natural_widths(columns, rows)
            while keep > len(columns) - optional and (
                indent + sum(widths[:keep]) + 2 * (keep - 1) > self.console.width
            ):
                keep -= 1
            columns = columns[:keep]
            rows = [row[:keep] for row in rows]

            table = Table(
                box=box.SIMPLE_HEAD,
                header_style="bold",
                pad_edge=False,
                show_edge=False,
                collapse_padding=True,
            )
            for col in columns:
                table.add_column(
                    col.header,
                    justify=col.justify,
                    no_wrap=col.overflow == "none",
                    overflow="fold" if col.overflow == "none" else col.overflow,
                    min_width=col.min_width,
                )
            for row in rows:
                table.add_row(*(self._text(cell) for cell in row))
            self._print_indented(table, indent)
            return
        texts = [[col.header for col in columns], *[[_plain(c) for c in row] for row in rows]]
        widths = _natural_widths(columns, rows)
        pad = " " * indent
        for row_text in texts:
            cells = [
                cell.rjust(w) if col.justify == "right" else cell.ljust(w)
                for cell, w, col in zip(row_text, widths, columns, strict=True)
            ]
            self.file.write((pad + "  ".join(cells)).rstrip() + "\n")

    def block(self, text: str, indent: int = 0, style: str | None = None) -> None:
        """A multi-line block (a YAML config, a traceback), indented."""
        self._started = True
        pad = " " * indent
        for raw in text.rstrip("\n").splitlines():
            self.line(Styled(pad + raw, style) if style else pad + raw)

    # ----------------------------------------------------------------- helpers
    def _text(self, cell: Cell) -> Text:
        from rich.text import Text

        if isinstance(cell, Styled):
            return Text(cell.text, style=cell.style or "")
        return Text(cell)

    def _print_indented(self, renderable: RenderableType, indent: int) -> None:
        if indent:
            from rich.padding import Padding

            renderable = Padding(renderable, (0, 0, 0, indent), expand=False)
        self.console.print(renderable)


def _natural_widths(columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> list[int]:
    """The width of each column's widest cell (header included)."""
    widths = [len(col.header) for col in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(_plain(cell)))
    return widths


# --------------------------------------------------------------------------- JSON
def print_json(value: Any, file: IO[str] | None = None) -> None:
    """Write ``value`` as indented, strict JSON (NaN as ``"NaN"``) and nothing else."""
    (file or sys.stdout).write(json_text(value) + "\n")


# --------------------------------------------------------------------------- formatting
def fmt_time(ts: float | None, seconds: bool = False) -> str:
    """An epoch time in local time: ``2026-11-23 19:33:01`` with ``seconds``, else compact
    (``11-23 19:33`` this year, ``2025-11-23`` before)."""
    if ts is None:
        return "-"
    dt = datetime.fromtimestamp(ts)
    if seconds:
        return dt.strftime("%Y-%m-%d %H:%M:%S")
    return dt.strftime("%m-%d %H:%M" if dt.year == datetime.now().year else "%Y-%m-%d")


def fmt_bytes(size: int | None) -> str:
    """``512 B``, ``1.5 KiB``, ``3.2 MiB``, ``1.1 GiB``."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
