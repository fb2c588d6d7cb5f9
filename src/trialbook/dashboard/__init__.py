"""The dashboard behind ``trialbook ui``: a FastAPI application with a typed JSON API under
``/api/`` (its OpenAPI schema at ``/api/openapi.json``) and the pages built on it.

Start it from Python::

    from trialbook.dashboard import serve

    serve(root="./experiments", port=8765)          # blocks; Ctrl-C stops it

or build the application to mount or test it::

    from trialbook.dashboard import create_app

    app = create_app(root="./experiments")

The server only serves what the library computes (run documents, queries, seed groups,
significance, leaderboards, downsampled curves). FastAPI and uvicorn are imported inside
the functions, so importing this package loads neither.
"""

from __future__ import annotations

from trialbook.dashboard._app import create_app
from trialbook.dashboard._serve import serve
from trialbook.dashboard._state import DashboardSettings

__all__ = ["DashboardSettings", "create_app", "serve"]
