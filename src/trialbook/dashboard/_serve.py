"""Running the dashboard with uvicorn: ``trialbook ui`` calls :func:`serve`."""

from __future__ import annotations

import errno
import os
import secrets
import socket
from typing import TYPE_CHECKING, Any

from trialbook.errors import TrialbookError

if TYPE_CHECKING:
    from collections.abc import Callable

    from trialbook.store import Workspace

__all__ = ["dashboard_url", "serve"]


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
    workspace: Workspace | None = None,
) -> None:
    """Serve the dashboard until interrupted (Ctrl-C).

    A ``host`` other than loopback requires a token: ``token`` when given, else a random one
    is generated. ``on_ready`` receives the URL to open (with ``?token=`` when there is one)
    once the server listens (it is called on the server's event loop: it must not block
    or wait for a request); ``open_browser`` opens it in the default browser. A resolved
    ``workspace`` may be given instead of ``root``/``store_url``. ``port=0``
    takes a free port (the URL names it). Ctrl-C (SIGINT) stops the server and returns;
    requests in flight are finished first.

    Raises:
        WorkspaceError: there is no workspace there.
        TrialbookError: the port is taken or not a valid port, or the host cannot be
            listened on (the message names it, with ``parameter`` ``port`` or ``host``).
    """
    import uvicorn

    from trialbook.dashboard._app import create_app
    from trialbook.dashboard._security import is_loopback
    from trialbook.dashboard._state import DashboardSettings

    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise TrialbookError(
            f"port must be a number from 0 to 65535 (0 takes a free one), got {port!r}.",
            parameter="port",
            value=port,
        )
    if token is not None and not token:
        raise TrialbookError(
            "token must not be empty; leave it out to serve loopback without one, or give a "
            "secret.",
            parameter="token",
            value=token,
        )
    if token is None and not is_loopback(host.strip("[]").lower()):
        token = secrets.token_urlsafe(24)
    # The bound host is the one a request's Host header may name besides loopback.
    settings = DashboardSettings(token=token, writable=writable, allowed_hosts=(host,))
    sock = _listen(host, port)
    try:
        app = create_app(root, store_url, workspace=workspace, settings=settings)
    except BaseException:
        sock.close()
        raise
    url = dashboard_url(host, sock.getsockname()[1], token)

    def ready() -> None:
        if on_ready is not None:
            on_ready(url)
        if open_browser:
            import threading
            import webbrowser

            # A browser can take its time to start (or be a terminal one): not on the loop.
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=5
    )
    server = _server(config, ready)
    try:
        _run(server, sock)
    except KeyboardInterrupt:
        # uvicorn shut down cleanly, then raised the SIGINT it caught again.
        pass
    finally:
        sock.close()


def _run(server: Any, sock: socket.socket) -> None:
    """Run ``server`` until it stops. When an event loop already runs in this thread (a
    Jupyter kernel, an async caller), uvicorn cannot start its own here: it serves from a
    worker thread instead, and Ctrl-C (KeyboardInterrupt here) asks it to shut down."""
    import asyncio
    import threading

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        server.run(sockets=[sock])
        return
    done = threading.Event()

    def run() -> None:
        try:
            server.run(sockets=[sock])
        finally:
            done.set()

    # An Event, not Thread.join: a join interrupted by Ctrl-C can report the thread finished
    # while it still shuts down (and the caller would close its socket under it).
    threading.Thread(target=run, daemon=True).start()
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        server.should_exit = True
        done.wait()


def _server(config: Any, ready: Callable[[], None]) -> Any:
    """A uvicorn server that calls ``ready`` once it listens (uvicorn is imported here)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                ready()

    return Server(config)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``; a taken port or unknown host is our error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise TrialbookError(
            f"Cannot listen on host {host!r} ({e.strerror}); use 127.0.0.1 (this machine "
            "only) or an address of this machine.",
            parameter="host",
            value=host,
        ) from e
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # Like uvicorn: reuse an address in TIME_WAIT (a restart), never a listening port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise TrialbookError(
                f"Port {port} on {host} is already in use; pick another with port= "
                "(--port), or port=0 for a free one.",
                parameter="port",
                value=port,
            ) from e
        raise TrialbookError(
            f"Cannot listen on {host}:{port} ({e.strerror}); ports below 1024 need "
            "privileges, so pick another port or host.",
            parameter="port",
            value=port,
        ) from e
    sock.set_inheritable(True)
    return sock


def dashboard_url(host: str, port: int, token: str | None = None) -> str:
    """The URL a person opens for a server on ``host:port`` (an address that listens on every
    interface is shown as this machine's name), with ``?token=`` when there is one."""
    shown = host.strip("[]")
    if shown in ("", "0.0.0.0", "::"):
        shown = socket.gethostname()
    elif ":" in shown:
        shown = f"[{shown}]"
    from urllib.parse import quote

    query = "" if token is None else f"?token={quote(token, safe='')}"
    return f"http://{shown}:{port}/{query}"
