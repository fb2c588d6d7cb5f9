"""(contract stub) Dashboard API routes; see the module docstring once implemented."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["runs"])
