"""Evaluation: benchmarks, metrics, models and per-sample results."""
