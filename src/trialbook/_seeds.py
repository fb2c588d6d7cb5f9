"""The range of a seed, in one place below both the config layer and tracking.

A seed must be accepted by every generator :func:`trialbook.seed_everything` seeds; NumPy's
legacy global generator is the narrowest, taking integers in ``[0, 2**32)``.
"""

from __future__ import annotations

from trialbook.errors import ConfigError

__all__ = ["SEED_LIMIT", "check_seed"]

#: One more than the largest seed: NumPy's legacy global generator accepts ``[0, 2**32)``.
SEED_LIMIT = 2**32


def check_seed(seed: int, where: str, *, parameter: str | None = None) -> None:
    """Refuse a seed outside ``[0, SEED_LIMIT)`` before any run folder exists.

    Args:
        seed: the seed to check (an int; callers refuse other types first).
        where: what the message starts with, e.g. ``"suite.yaml (line 3)"`` or ``"seeds"``.
        parameter: the Python parameter the seed came from, if any, for the error's field.

    Raises:
        ConfigError: the seed is negative or too large.
    """
    if not 0 <= seed < SEED_LIMIT:
        shown = str(seed) if seed.bit_length() <= 256 else f"of {seed.bit_length()} bits"
        raise ConfigError(
            f"{where}: seed {shown} is out of range; use an integer from 0 to "
            f"{SEED_LIMIT - 1} (the range NumPy accepts).",
            parameter=parameter,
            value=seed,
        )
