"""Seed every random number generator a run is likely to use (Python, NumPy, torch) from one int.

NumPy and torch are optional: each is seeded only if it can be imported.
"""

from __future__ import annotations

import importlib.util
import numbers
import os
import random

from trialbook._seeds import SEED_LIMIT as _SEED_LIMIT
from trialbook.errors import ConfigError

__all__ = ["seed_everything"]


def _validate_seed(seed: object) -> int:
    # bool is an int subclass, but seed=True is almost always a mistake for seed=1 or a flag.
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ConfigError(
            f"Seed {seed!r} is not an integer; pass an int from 0 to {_SEED_LIMIT - 1}, "
            "for example seed=0."
        )
    value = int(seed)
    if not 0 <= value < _SEED_LIMIT:
        raise ConfigError(
            f"Seed {value} is out of range; pass an int from 0 to {_SEED_LIMIT - 1} "
            "(the range NumPy accepts)."
        )
    return value


def _seed_numpy(seed: int) -> None:
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(seed)


def _seed_torch(seed: int, *, deterministic: bool) -> None:
    if importlib.util.find_spec("torch") is None:
        return
    import torch

    torch.manual_seed(seed)
    # manual_seed already seeds CUDA lazily; this call is explicit and harmless without a GPU.
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        # cuBLAS needs a fixed workspace to be deterministic, and reads this only at CUDA
        # initialisation, so it must be set before the first CUDA call.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed ``random``, NumPy's global generator and torch (CPU and all GPUs) with ``seed``.

    With ``deterministic=True``, torch is also told to use only deterministic algorithms, which
    can be slower and makes nondeterministic operations raise. ``PYTHONHASHSEED`` is set too; it
    cannot change hashing in the running interpreter, only in subprocesses (such as dataloader
    workers started with "spawn").

    Raises :class:`~trialbook.errors.ConfigError` if ``seed`` is not an int in ``[0, 2**32)``.
    """
    value = _validate_seed(seed)
    random.seed(value)
    os.environ["PYTHONHASHSEED"] = str(value)
    _seed_numpy(value)
    _seed_torch(value, deterministic=deterministic)
