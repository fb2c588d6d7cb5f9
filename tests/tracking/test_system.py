"""Tests for SystemMonitor."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from collections.abc import Iterator

import psutil
import pytest

from trialbook.tracking._system import SystemMonitor

BASE_KEYS = {"system/cpu_percent", "system/rss_mb", "system/memory_percent"}


@pytest.fixture
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)


@pytest.fixture
def child() -> Iterator[subprocess.Popen[bytes]]:
    """A Python process that lives until its stdin is closed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def _burn_cpu() -> int:
    return sum(i * i for i in range(300_000))


def test_sample_has_expected_keys(no_torch: None) -> None:
    monitor = SystemMonitor()

    sample = monitor.sample()

    assert set(sample) == BASE_KEYS
    assert all(isinstance(value, float) for value in sample.values())


def test_rss_is_plausible() -> None:
    monitor = SystemMonitor()

    rss_mb = monitor.sample()["system/rss_mb"]

    expected = psutil.Process().memory_info().rss / 2**20
    assert rss_mb > 0
    # Both readings are of this process moments apart; allow for allocator noise.
    assert expected * 0.5 < rss_mb < expected * 2


def test_memory_percent_is_a_percentage() -> None:
    value = SystemMonitor().sample()["system/memory_percent"]

    assert 0 < value <= 100


def test_cpu_percent_after_work_is_non_negative() -> None:
    monitor = SystemMonitor()
    monitor.sample()
    _burn_cpu()

    second = monitor.sample()["system/cpu_percent"]

    assert second >= 0
    assert second <= 100 * (psutil.cpu_count() or 1) * 1.5


def test_defaults_to_this_process() -> None:
    assert SystemMonitor().pid == os.getpid()


def test_monitors_another_process(child: subprocess.Popen[bytes], no_torch: None) -> None:
    monitor = SystemMonitor(child.pid)

    sample = monitor.sample()

    assert monitor.pid == child.pid
    assert set(sample) == BASE_KEYS
    assert sample["system/rss_mb"] > 0


def test_process_that_exits_yields_machine_readings_only(
    child: subprocess.Popen[bytes], no_torch: None
) -> None:
    monitor = SystemMonitor(child.pid)
    assert child.stdin is not None
    child.stdin.close()
    child.wait(timeout=10)

    sample = monitor.sample()

    assert set(sample) == {"system/memory_percent"}


def test_missing_pid_does_not_raise(child: subprocess.Popen[bytes]) -> None:
    assert child.stdin is not None
    child.stdin.close()
    child.wait(timeout=10)

    monitor = SystemMonitor(child.pid)

    assert set(monitor.sample()) == {"system/memory_percent"}


def test_psutil_failure_is_swallowed(monkeypatch: pytest.MonkeyPatch, no_torch: None) -> None:
    monitor = SystemMonitor()

    def broken() -> None:
        raise psutil.AccessDenied(os.getpid())

    monkeypatch.setattr(psutil, "virtual_memory", broken)

    assert set(monitor.sample()) == {"system/cpu_percent", "system/rss_mb"}


def _fake_torch(*, available: bool, initialized: bool, allocated: int) -> types.ModuleType:
    torch = types.ModuleType("torch")
    torch.cuda = types.SimpleNamespace(  # type: ignore[attr-defined]
        is_available=lambda: available,
        is_initialized=lambda: initialized,
        memory_allocated=lambda: allocated,
    )
    return torch


def test_gpu_memory_from_imported_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _fake_torch(available=True, initialized=True, allocated=256 * 2**20)
    monkeypatch.setitem(sys.modules, "torch", fake)

    sample = SystemMonitor().sample()

    assert sample["system/gpu_memory_mb"] == 256.0


@pytest.mark.parametrize(
    ("available", "initialized"), [(False, False), (True, False), (False, True)]
)
def test_no_gpu_memory_unless_cuda_is_initialised(
    monkeypatch: pytest.MonkeyPatch, available: bool, initialized: bool
) -> None:
    fake = _fake_torch(available=available, initialized=initialized, allocated=1)
    monkeypatch.setitem(sys.modules, "torch", fake)

    assert "system/gpu_memory_mb" not in SystemMonitor().sample()


def test_no_gpu_memory_for_another_process(
    monkeypatch: pytest.MonkeyPatch, child: subprocess.Popen[bytes]
) -> None:
    fake = _fake_torch(available=True, initialized=True, allocated=2**20)
    monkeypatch.setitem(sys.modules, "torch", fake)

    assert "system/gpu_memory_mb" not in SystemMonitor(child.pid).sample()


def test_torch_errors_are_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> bool:
        raise RuntimeError("CUDA driver initialization failed")

    torch = types.ModuleType("torch")
    torch.cuda = types.SimpleNamespace(is_available=boom)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)

    assert set(SystemMonitor().sample()) == BASE_KEYS


def test_does_not_import_torch(no_torch: None) -> None:
    SystemMonitor().sample()

    assert "torch" not in sys.modules
