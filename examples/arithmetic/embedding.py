"""The deterministic algebraic number embedding of the hybrid model (NumPy; no training).

A number ``x`` becomes a 128-d vector of two parts:

* the **linear part** (64 dims): ``x * A`` for a fixed unit vector ``A``, so that
  ``linear(a) + linear(b) == linear(a + b)`` and ``c * linear(a) == linear(c * a)``:
  addition and subtraction are vector addition and subtraction;
* the **log part** (64 dims): ``log10|x| * B`` (63 dims, ``B`` a fixed unit vector) and the
  sign of ``x`` (1 dim), so that the log-magnitudes of a product add:
  ``logmag(a * b) == logmag(a) + logmag(b)``, ``sign(a * b) == sign(a) * sign(b)``, and a
  quotient subtracts.

``A`` and ``B`` come from a fixed generator, so every run and every process embeds a number the
same way. ``decode_linear`` and ``decode_log`` invert the two parts exactly (both are linear
maps onto a line). The hybrid model projects the embedding to its hidden size with a learned
linear layer; being linear, the projection keeps this algebra (see models.py).
"""

from __future__ import annotations

import numpy as np

DIM = 128
LINEAR_DIM = 64
LOG_DIM = 63  # + 1 sign dimension
LOG_FLOOR = -6.0  # log10 of |x| below 1e-6 (and of 0): a zero stays finite in log space

_directions = np.random.default_rng(20260101)
A = _directions.normal(size=LINEAR_DIM)
A /= np.linalg.norm(A)
B = _directions.normal(size=LOG_DIM)
B /= np.linalg.norm(B)


def log_magnitude(x: float | np.ndarray) -> np.ndarray:
    """``log10|x|``, floored at :data:`LOG_FLOOR`."""
    return np.maximum(
        np.log10(np.maximum(np.abs(np.asarray(x, dtype=np.float64)), 1e-300)), LOG_FLOOR
    )


def linear_part(x: float) -> np.ndarray:
    return float(x) * A


def log_part(x: float) -> np.ndarray:
    return np.concatenate([log_magnitude(x) * B, [np.sign(x) if x != 0 else 1.0]])


def embed(x: float) -> np.ndarray:
    """The 128-d embedding ``[linear part | log-magnitude part | sign]`` of one number."""
    return np.concatenate([linear_part(x), log_part(x)])


def decode_linear(vector: np.ndarray) -> float:
    """The value whose linear part is (closest to) ``vector[:64]``."""
    return float(np.dot(vector[:LINEAR_DIM], A))


def decode_log(vector: np.ndarray) -> tuple[float, float]:
    """``(log10|x|, sign)`` read from the log part of a 128-d embedding."""
    log = vector[LINEAR_DIM:]
    return float(np.dot(log[:LOG_DIM], B)), float(np.sign(log[LOG_DIM]) or 1.0)
