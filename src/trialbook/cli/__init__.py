"""The ``trialbook`` command line, a thin Typer layer over the library.

``main`` is the console-script entry point; ``app`` is the Typer application (for
``typer.testing.CliRunner`` and for embedding).
"""

from trialbook.cli._app import app, main

__all__ = ["app", "main"]
