"""Fixtures for the Runner tests (see runner_helpers)."""

from runner_helpers import ws

__all__ = ["ws"]
