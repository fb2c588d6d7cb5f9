"""Building the dashboard's FastAPI application: routers, security, errors as JSON."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from trialbook.dashboard._state import DashboardSettings, DashboardState

if TYPE_CHECKING:
    from fastapi import FastAPI

    from trialbook._workspace import Workspace

__all__ = ["create_app"]


def create_app(
    root: str | os.PathLike[str] | None = None,
    store_url: str | None = None,
    *,
    workspace: Workspace | None = None,
    settings: DashboardSettings | None = None,
) -> FastAPI:
    """The dashboard application for a workspace (``root``/``store_url`` as everywhere, or a
    resolved ``workspace``). The Store is opened on the first request and closed at shutdown.

    Raises:
        WorkspaceError: there is no workspace there (checked before anything is served).
    """
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    from trialbook import __version__
    from trialbook.dashboard import _api_compare, _api_run, _api_runs, _errors, _pages, _security
    from trialbook.store import Workspace

    ws = workspace or Workspace.resolve(root, store_url)
    state = DashboardState(ws, settings or DashboardSettings())
    state.store  # noqa: B018 -- fail now (no workspace, old schema), not on the first request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Long curves are reduced with numpy (store/_buckets.py): imported at start, not in
        # the first request that draws one.
        import numpy  # noqa: F401

        yield
        state.close()

    app = FastAPI(
        title="trialbook dashboard",
        version=__version__,
        openapi_url="/api/openapi.json",
        # FastAPI's Swagger page loads its scripts from a CDN: not served (the schema is).
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.dashboard = state
    _errors.install(app)
    _security.install(app, state.settings)
    app.include_router(_api_runs.router, prefix="/api")
    app.include_router(_api_run.router, prefix="/api")
    app.include_router(_api_compare.router, prefix="/api")
    app.include_router(_pages.router)
    return app


def static_folder() -> Path:
    """The folder of the dashboard's own scripts and styles."""
    return Path(__file__).with_name("static")
