"""Runs as DataFrames (filled in below)."""

from __future__ import annotations

from typing import Any


def load_runs(*args: Any, **kwargs: Any) -> Any:
    """One row per run."""
    raise NotImplementedError


def load_experiment_results(path: Any) -> Any:
    """Seed 001 name for load_runs."""
    raise NotImplementedError


def compare_experiments(df: Any, experiment_names: Any = None, metrics: Any = None) -> Any:
    """Per experiment n, mean and std."""
    raise NotImplementedError


def print_results_summary(df: Any) -> None:
    """Rich table."""
    raise NotImplementedError


def resolve_metric(df: Any, name: str) -> str:
    """Column a metric name means."""
    raise NotImplementedError
