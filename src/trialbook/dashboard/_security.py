"""(contract stub) Token, CSP and CSRF checks of the dashboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from trialbook.dashboard._state import DashboardSettings

__all__ = ["install"]


def install(app: FastAPI, settings: DashboardSettings) -> None:
    """Add the security middleware (token, Content-Security-Policy, CSRF) to ``app``."""
