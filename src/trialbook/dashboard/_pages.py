"""The dashboard's pages and static files.

Each page is a static HTML shell (``dashboard/static/*.html``) that loads one plain JavaScript
module; the module reads the page's state from the URL query, fetches the JSON API under
``/api/`` and renders it with ``textContent`` (never HTML built from data). There is no
template and no inline script, so the Content-Security-Policy ``script-src 'self'`` holds.

- ``/`` runs, ``/runs/{ref}`` one run, ``/compare?runs=..&groups=..``, ``/leaderboard``;
- ``/static/<file>``: the folder's own scripts and styles (a path leaving it is a 404);
- ``/static/vendor/plotly.min.js``: plotly.js from the installed ``plotly`` package, found
  with :func:`importlib.util.find_spec` so the server never imports plotly.
"""

from __future__ import annotations

import importlib.util
import mimetypes
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

__all__ = ["PAGES", "plotly_js", "router"]

router = APIRouter(include_in_schema=False)

PAGES = {
    "runs": "runs.html",
    "run": "run.html",
    "compare": "compare.html",
    "leaderboard": "leaderboard.html",
}
"""Each page's HTML shell in the static folder."""

_STATIC = Path(__file__).with_name("static")
# Pages and the project's own scripts change with the package: revalidate each time (cheap,
# answered by ETag/Last-Modified); plotly.js is a large file that changes only with plotly.
_REVALIDATE = "no-cache"
_VENDOR_CACHE = "public, max-age=86400"
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}


@cache
def plotly_js() -> Path | None:
    """The ``plotly.min.js`` shipped inside the installed ``plotly`` package, or None when the
    package (or its bundled script) is missing. The package is located, not imported."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    return None


def _page(name: str) -> FileResponse:
    return FileResponse(
        _STATIC / PAGES[name],
        media_type=_TYPES[".html"],
        headers={"Cache-Control": _REVALIDATE},
    )


@router.get("/")
def runs_page() -> FileResponse:
    """Every run: filters, columns, sorting, paging, seed groups, selection to compare."""
    return _page("runs")


@router.get("/runs/{ref}")
def run_page(ref: str) -> FileResponse:
    """One run (the page asks the API for ``ref``; an unknown run is shown there)."""
    return _page("run")


@router.get("/compare")
def compare_page() -> FileResponse:
    """Runs and seed groups side by side (``?runs=..&groups=..``)."""
    return _page("compare")


@router.get("/leaderboard")
def leaderboard_page() -> FileResponse:
    """A benchmark's leaderboard (``?benchmark=..&metric=..&by=run|group``)."""
    return _page("leaderboard")


@router.get("/static/vendor/plotly.min.js")
def plotly_script() -> Response:
    """plotly.js from the installed package (cached by the browser for a day)."""
    path = plotly_js()
    if path is None:
        return _missing(
            "plotly.js is not installed: install the plotly package "
            "(pip install plotly) to draw the dashboard's charts."
        )
    return FileResponse(path, media_type=_TYPES[".js"], headers={"Cache-Control": _VENDOR_CACHE})


@router.get("/static/{path:path}")
def static_file(path: str) -> Response:
    """A file of the dashboard's static folder; anything resolving outside it is a 404."""
    target = _inside(_STATIC, path)
    if target is None:
        return _missing(f"No static file {path!r}; the dashboard has no such script or style.")
    media = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    return FileResponse(
        target,
        media_type=media or "application/octet-stream",
        headers={"Cache-Control": _REVALIDATE},
    )


def _inside(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` when it is a file inside ``folder`` (after resolving links)."""
    if not relative or relative.startswith(("/", "\\")) or "\0" in relative:
        return None
    base = folder.resolve()
    try:
        target = (base / relative).resolve()
    except (OSError, RuntimeError):
        return None
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def _missing(sentence: str) -> Response:
    from fastapi.responses import JSONResponse

    return JSONResponse({"detail": sentence}, status_code=404)
