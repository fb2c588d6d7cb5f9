"""The transient progress bar long library calls draw on stderr (``evaluate``'s samples,
``copy_store``'s stages): one owner for its look and for when it is drawn.

rich is imported only when a bar is drawn, so importing this module costs nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TypeAlias

from trialbook._format import clip, printable

__all__ = ["Advance", "Stages", "progress_bar"]

#: Called with a number of items just done.
Advance: TypeAlias = Callable[[int], object]
#: ``stage(label, total)``: a context manager around one stage of the work that yields the
#: stage's :data:`Advance`; ``total`` is the number of items, or None when not known.
Stages: TypeAlias = Callable[[str, "int | None"], AbstractContextManager[Advance]]

#: Longest label shown; longer ones are clipped.
_LABEL_WIDTH = 60


def _on_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(callable(isatty) and isatty())


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Stages | None]:
    """A bar on stderr that shows the stage under way (label, bar, done of total, time taken
    and left) and disappears when the ``with`` ends; one line at a time, each stage's line
    removed when the stage ends. Yields its :data:`Stages`, or None (nothing drawn) when not
    ``enabled`` or stderr is not a terminal.

    Labels are text, never rich markup (a model named ``[/]`` is shown as written), and
    control characters are shown escaped.
    """
    if not enabled or not _on_terminal():
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description:<15}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(file=sys.stderr),
        transient=True,
    ) as bar:

        @contextmanager
        def stage(label: str, total: int | None) -> Iterator[Advance]:
            task = bar.add_task(clip(printable(label), _LABEL_WIDTH), total=total)
            try:
                yield lambda n: bar.advance(task, n)
            finally:
                bar.remove_task(task)

        yield stage
