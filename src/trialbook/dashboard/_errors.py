"""Errors as JSON: a user's mistake is a 4xx with one sentence, never a 500 with a traceback.

Every error response is ``{"detail": "<one sentence>"}``:

- :class:`~trialbook.errors.RunNotFoundError` (not the ambiguous kind) -> 404;
- any other :class:`~trialbook.errors.TrialbookError` (a bad ``where``, an unknown metric,
  ...) -> 422;
- a query parameter FastAPI cannot read -> 422 naming the parameter and the bad value;
- a path no route serves -> 404 naming the path (Starlette's bare "Not Found" becomes a
  sentence; an ``HTTPException`` a route raised with its own detail keeps it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Register the handlers that turn library errors and bad parameters into JSON."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException

    from trialbook.errors import TrialbookError

    app.add_exception_handler(TrialbookError, _library_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    from http import HTTPStatus

    from fastapi.responses import JSONResponse

    status = int(getattr(exc, "status_code", 500))
    detail = getattr(exc, "detail", None)
    headers = getattr(exc, "headers", None)
    if not isinstance(detail, str) or detail == HTTPStatus(status).phrase:
        path = request.url.path[:200]
        detail = (
            f"There is nothing at {path!r}; the pages are /, /runs/RUN, /compare and "
            "/leaderboard, the API is listed at /api/openapi.json."
            if status == 404
            else f"{HTTPStatus(status).phrase} for {request.method} {path!r}."
        )
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _library_error(request: Request, exc: Exception) -> JSONResponse:
    from fastapi.responses import JSONResponse

    from trialbook.errors import AmbiguousRunError, RunNotFoundError

    status = (
        404 if isinstance(exc, RunNotFoundError) and not isinstance(exc, AmbiguousRunError) else 422
    )
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    from fastapi.responses import JSONResponse

    errors: list[dict[str, Any]] = list(getattr(exc, "errors", list)())
    if not errors:
        return JSONResponse({"detail": "The request is not valid."}, status_code=422)
    first = errors[0]
    where = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body")]
    name = ".".join(where) or "request"
    value = first.get("input")
    message = str(first.get("msg", "is not valid")).rstrip(".")
    shown = "" if value is None or isinstance(value, dict) else f" {str(value)[:80]!r}"
    return JSONResponse(
        {"detail": f"{name}={shown.strip() or '?'} is not valid: {message.lower()}."},
        status_code=422,
    )
