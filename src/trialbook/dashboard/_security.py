"""The dashboard's guards: token, Host check, CSRF for writes, and security headers.

One ASGI middleware in front of every route (API, pages and static files alike) decides, in
this order:

1. **Token** (when :attr:`DashboardSettings.token` is set): the request carries it as
   ``Authorization: Bearer <token>``, as the ``trialbook_token_<port>`` cookie, or as
   ``?token=``.
   A correct ``?token=`` on a GET sets that cookie (HttpOnly, SameSite=Strict) and redirects
   to the same path without it, so the token leaves the address bar and the history. Anything
   else is a 401 ``{"detail": ...}``. Tokens are compared in constant time.
2. **Host** (when there is no token): the ``Host`` header must name a loopback address
   (``127.0.0.1``, ``localhost``, ``::1``, any port) or one of
   :attr:`DashboardSettings.allowed_hosts` (the host the server was bound to). This stops
   DNS rebinding: a web page at ``evil.example`` whose name is made to resolve to 127.0.0.1
   sends ``Host: evil.example`` and gets a 403. With a token the token is the guard and any
   Host is accepted (a server reached through a proxy or by its LAN name).
3. **Writes** (POST, PUT, PATCH, DELETE): a read-only dashboard answers 405. A writable one
   requires an ``Origin`` header equal to the server's own origin (scheme and the request's
   Host) and an ``X-CSRF-Token`` header equal to the ``trialbook_csrf`` cookie (double-submit
   cookie); else 403. Every response to a request without that cookie sets a new random one
   (readable by the page's script, SameSite=Strict).

Every response gets :data:`SECURITY_HEADERS` (a Content-Security-Policy that runs only the
server's own scripts, ``nosniff``, no referrer, no framing); API responses also get
``Cache-Control: no-store`` unless the route set its own.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

if TYPE_CHECKING:
    from fastapi import FastAPI

    from trialbook.dashboard._state import DashboardSettings

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SECURITY_HEADERS",
    "TOKEN_COOKIE",
    "install",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The cookie holding the access token after a ``?token=`` visit, followed by ``_<port>``:
#: browsers send a host's cookies to every port, and two dashboards on one machine must
#: not overwrite each other's token.
TOKEN_COOKIE = "trialbook_token"
#: The double-submit CSRF cookie; writes echo it in :data:`CSRF_HEADER`.
CSRF_COOKIE = "trialbook_csrf"
CSRF_HEADER = "x-csrf-token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)

#: Headers set on every response.
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
)

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def install(app: FastAPI, settings: DashboardSettings) -> None:
    """Put the guards described in the module docstring in front of every route of ``app``."""
    app.add_middleware(SecurityMiddleware, settings=settings)


def _host_name(host_header: str) -> str:
    """``example.org:8765`` -> ``example.org``; ``[::1]:8765`` -> ``::1``; lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def is_loopback(name: str) -> bool:
    """True for ``localhost`` and the loopback addresses (127.0.0.0/8, ``::1``)."""
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


class SecurityMiddleware:
    """The ASGI middleware of :func:`install` (pure ASGI, so streamed responses such as
    server-sent events pass through unbuffered)."""

    def __init__(self, app: ASGIApp, settings: DashboardSettings) -> None:
        self.app = app
        self.settings = settings
        self.allowed_hosts = frozenset(_host_name(h) for h in settings.allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        cookies = _cookies(headers.get("cookie", ""))
        path: str = scope.get("path", "/")
        extra: list[tuple[str, str]] = []
        if CSRF_COOKIE not in cookies:
            extra.append(("set-cookie", _cookie(CSRF_COOKIE, secrets.token_urlsafe(24), False)))
        refused = self._refusal(scope, headers, cookies)
        wrapped = _with_headers(send, extra, api=path.startswith("/api/"))
        if refused is None:
            await self.app(scope, receive, wrapped)
        else:
            await refused(scope, receive, wrapped)

    def _refusal(
        self, scope: Scope, headers: dict[str, str], cookies: dict[str, str]
    ) -> ASGIApp | None:
        """The response that refuses this request, or None to let it through."""
        token = self.settings.token
        method = str(scope.get("method", "GET")).upper()
        if token is not None:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
            given = [v for k, v in query if k == "token"]
            if given:
                if not _same(given[-1], token):
                    return _error(
                        401,
                        "The token in the address is not this dashboard's; "
                        "open the URL that `trialbook ui` printed.",
                    )
                if method in ("GET", "HEAD"):
                    rest = urlencode([(k, v) for k, v in query if k != "token"])
                    raw = scope.get("raw_path") or str(scope.get("path", "/")).encode()
                    path = bytes(raw).decode("latin-1")
                    return _login_redirect(path, rest, _token_cookie(scope), token)
            else:
                auth = headers.get("authorization", "")
                bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
                kept = cookies.get(_token_cookie(scope))
                if not (_same(bearer, token) or _same(kept, token)):
                    return _error(
                        401,
                        "This dashboard needs its token; open the URL with ?token= that "
                        "`trialbook ui` printed, or send 'Authorization: Bearer <token>'.",
                    )
        else:
            host = headers.get("host", "")
            name = _host_name(host)
            if not (is_loopback(name) or name in self.allowed_hosts):
                return _error(
                    403,
                    f"Host {host[:100]!r} is not this dashboard's; open it at its loopback "
                    "address (http://127.0.0.1:PORT/), or start it with --token to serve "
                    "other host names.",
                )
        if method in _UNSAFE_METHODS:
            if not self.settings.writable:
                return _error(
                    405,
                    "This dashboard is read-only; start it with --writable to change tags "
                    "and notes.",
                )
            origin = headers.get("origin")
            scheme = str(scope.get("scheme", "http"))
            own = f"{scheme}://{headers.get('host', '')}"
            if origin is None or origin.lower() != own.lower():
                return _error(
                    403,
                    f"A write must come from this dashboard's own pages (Origin {own}); "
                    f"got Origin {(origin or 'none')[:100]!r}.",
                )
            if not _same(headers.get(CSRF_HEADER), cookies.get(CSRF_COOKIE)):
                return _error(
                    403,
                    f"A write needs the {CSRF_HEADER} header equal to the {CSRF_COOKIE} "
                    "cookie; reload the page and try again.",
                )
        return None


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        out.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
    return out


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except Exception:  # a malformed Cookie header is no cookie
        return {}
    return {k: m.value for k, m in jar.items()}


def _cookie(name: str, value: str, http_only: bool) -> str:
    flags = "; HttpOnly" if http_only else ""
    return f"{name}={value}; Path=/; SameSite=Strict{flags}"


def _with_headers(send: Send, extra: list[tuple[str, str]], *, api: bool) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            raw = list(message.get("headers", []))
            names = {k.decode("latin-1").lower() for k, _ in raw}
            for key, value in SECURITY_HEADERS:
                if key not in names:
                    raw.append((key.encode("latin-1"), value.encode("latin-1")))
            if api and "cache-control" not in names:
                raw.append((b"cache-control", b"no-store"))
            raw += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in extra]
            message["headers"] = raw
        await send(message)

    return wrapped


def _error(status: int, detail: str) -> ASGIApp:
    from starlette.responses import JSONResponse

    return JSONResponse({"detail": detail}, status_code=status)


def _token_cookie(scope: Scope) -> str:
    """The token cookie's name on this server: ``trialbook_token_<port>``."""
    server = scope.get("server")
    port = server[1] if server and len(server) > 1 and server[1] is not None else ""
    return f"{TOKEN_COOKIE}_{port}" if port else TOKEN_COOKIE


def _login_redirect(path: str, query: str, cookie: str, token: str) -> ASGIApp:
    from starlette.responses import RedirectResponse

    # One leading slash: "//evil.example" as a Location would leave the server.
    target = "/" + path.lstrip("/\\") + (f"?{query}" if query else "")
    response = RedirectResponse(target, status_code=303)
    response.headers.append("set-cookie", _cookie(cookie, token, True))
    return response
