"""Helpers for testing trialbook and code built on it: every Store backend, built and torn down."""

from trialbook.testing.stores import (
    POSTGRES_URL_ENV,
    STORE_BACKENDS,
    BackendUnavailable,
    make_store,
)

__all__ = ["POSTGRES_URL_ENV", "STORE_BACKENDS", "BackendUnavailable", "make_store"]
