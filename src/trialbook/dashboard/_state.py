"""What every request of the dashboard shares: its settings and the open Store."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

# At run time, not only for type checkers: FastAPI reads state_of's annotation to know that
# its parameter is the request (an unresolvable name would make it a required query field).
from fastapi import Depends
from starlette.requests import Request

if TYPE_CHECKING:
    from trialbook._workspace import Workspace
    from trialbook.store import Store

__all__ = ["DashboardSettings", "DashboardState", "State", "state_of"]


@dataclass(frozen=True)
class DashboardSettings:
    """How a dashboard serves a workspace.

    ``token``: when set, every request must carry it (``?token=`` once, then the cookie it
    sets, or an ``Authorization: Bearer`` header); ``None`` serves without one (loopback
    only). ``writable``: allow the writes the UI offers (tags, notes), each checked for
    origin and CSRF token; read-only by default. ``allowed_hosts``: host names (besides
    loopback) a request's ``Host`` header may name when there is no token -- the host the
    server is bound to; any other is refused (DNS rebinding).
    """

    token: str | None = None
    writable: bool = False
    allowed_hosts: tuple[str, ...] = ()


class DashboardState:
    """The workspace, its Store (opened once, shared by requests) and the settings."""

    def __init__(self, workspace: Workspace, settings: DashboardSettings) -> None:
        self.workspace = workspace
        self.settings = settings
        self._store: Store | None = None
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The workspace folder; run folders are found relative to it."""
        return self.workspace.root

    @property
    def store(self) -> Store:
        """The Store, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = self.workspace.open_store()
            return self._store

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def state_of(request: Request) -> DashboardState:
    """The :class:`DashboardState` of the application serving ``request`` (a dependency)."""
    state: DashboardState = request.app.state.dashboard
    return state


#: A route parameter of this type receives the :class:`DashboardState` (``state: State``).
State = Annotated[DashboardState, Depends(state_of)]
