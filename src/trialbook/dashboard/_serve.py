"""Running the dashboard with uvicorn: ``trialbook ui`` calls :func:`serve`."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["serve"]


def serve(
    root: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str | None = None,
    writable: bool = False,
    open_browser: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the dashboard until interrupted (Ctrl-C).

    A ``host`` other than loopback requires a token: ``token`` when given, else a random one
    is generated. ``on_ready`` receives the URL to open (with ``?token=`` when there is one)
    once the server listens; ``open_browser`` opens it in the default browser.

    Raises:
        WorkspaceError: there is no workspace there.
        TrialbookError: the port is taken or not a valid port (the message names it).
    """
    raise NotImplementedError("contract stub; implemented by the CLI/serve helper")
