"""Seed groups (filled in below)."""

from __future__ import annotations

from typing import Any


def seed_groups(df: Any, metrics: Any = None, **kwargs: Any) -> Any:
    """One row per seed group."""
    raise NotImplementedError
