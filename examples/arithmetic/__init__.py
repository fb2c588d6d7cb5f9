"""Seed 003's experiment: token-only against hybrid numbers (docs/arithmetic.md)."""
