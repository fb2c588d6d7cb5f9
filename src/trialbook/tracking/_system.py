"""Sample a process's CPU and memory use (and torch's GPU memory) as ``system/*`` metrics.

Sampling never raises: a reading that fails (say, the process has exited) is left out.
"""

from __future__ import annotations

import contextlib
import os
import sys

import psutil

__all__ = ["SystemMonitor"]

_MB = float(2**20)


class SystemMonitor:
    """Reads resource use of one process (default: this one) each time :meth:`sample` is called.

    Not thread-safe: CPU percent is measured between consecutive calls, so call :meth:`sample`
    from a single thread.
    """

    def __init__(self, pid: int | None = None) -> None:
        self._pid = os.getpid() if pid is None else pid
        self._is_self = self._pid == os.getpid()
        self._process: psutil.Process | None
        try:
            self._process = psutil.Process(self._pid)
            # Start the CPU clock now so the first sample covers the time since construction
            # instead of being a meaningless 0.0.
            self._process.cpu_percent(None)
        except Exception:
            self._process = None

    @property
    def pid(self) -> int:
        return self._pid

    def sample(self) -> dict[str, float]:
        """Return the current readings.

        Keys: ``system/cpu_percent`` (this process's CPU use since the previous call; 100 is one
        full core, so it can exceed 100), ``system/rss_mb``, ``system/memory_percent`` (the whole
        machine), and ``system/gpu_memory_mb`` when torch is already imported and has
        initialised CUDA in this process. A reading that fails is left out.
        """
        metrics: dict[str, float] = {}
        if self._process is not None:
            with contextlib.suppress(Exception):
                metrics["system/cpu_percent"] = float(self._process.cpu_percent(None))
            with contextlib.suppress(Exception):
                metrics["system/rss_mb"] = self._process.memory_info().rss / _MB
        with contextlib.suppress(Exception):
            metrics["system/memory_percent"] = float(psutil.virtual_memory().percent)
        gpu_mb = self._gpu_memory_mb()
        if gpu_mb is not None:
            metrics["system/gpu_memory_mb"] = gpu_mb
        return metrics

    def _gpu_memory_mb(self) -> float | None:
        # torch can only report allocations made by this process, and importing it here would
        # cost seconds, so only look when the monitored process is us and torch is loaded.
        if not self._is_self:
            return None
        torch = sys.modules.get("torch")
        if torch is None:
            return None
        try:
            if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
                return None
            return float(torch.cuda.memory_allocated()) / _MB
        except Exception:
            return None
