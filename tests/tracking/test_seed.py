"""Tests for seed_everything."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import random
import sys
import types
from typing import Any

import pytest

from trialbook.errors import ConfigError
from trialbook.tracking._seed import seed_everything

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.fixture(autouse=True)
def _restore_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # seed_everything writes these; monkeypatch puts back whatever was there before.
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)


def test_same_seed_repeats_python_random() -> None:
    seed_everything(1234)
    first = [random.random() for _ in range(5)]
    seed_everything(1234)
    second = [random.random() for _ in range(5)]

    assert first == second


def test_different_seeds_differ() -> None:
    seed_everything(1)
    first = [random.random() for _ in range(5)]
    seed_everything(2)
    second = [random.random() for _ in range(5)]

    assert first != second


def test_same_seed_repeats_numpy() -> None:
    np = pytest.importorskip("numpy")

    seed_everything(7)
    first = np.random.rand(5)
    seed_everything(7)
    second = np.random.rand(5)

    assert first.tolist() == second.tolist()
    seed_everything(8)
    assert np.random.rand(5).tolist() != first.tolist()


def test_sets_pythonhashseed() -> None:
    seed_everything(42)

    assert os.environ["PYTHONHASHSEED"] == "42"


@pytest.mark.parametrize("seed", [0, 2**32 - 1])
def test_range_limits_are_accepted(seed: int) -> None:
    seed_everything(seed)

    assert os.environ["PYTHONHASHSEED"] == str(seed)


def test_numpy_integer_is_accepted() -> None:
    np = pytest.importorskip("numpy")

    seed_everything(np.int64(5))
    first = random.random()
    seed_everything(5)

    assert random.random() == first


@pytest.mark.parametrize("seed", [True, False, 1.0, 1.5, "42", None, [1]])
def test_non_int_seed_is_rejected(seed: Any) -> None:
    with pytest.raises(ConfigError) as excinfo:
        seed_everything(seed)

    message = str(excinfo.value)
    assert repr(seed) in message
    assert "pass an int" in message


@pytest.mark.parametrize("seed", [-1, 2**32, 2**64])
def test_out_of_range_seed_is_rejected(seed: int) -> None:
    with pytest.raises(ConfigError) as excinfo:
        seed_everything(seed)

    message = str(excinfo.value)
    assert str(seed) in message
    assert "4294967295" in message


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        seed_everything(-5)


def test_rejected_seed_changes_nothing() -> None:
    random.seed(99)
    expected = random.random()
    random.seed(99)

    with pytest.raises(ConfigError):
        seed_everything(-1)

    assert random.random() == expected
    assert "PYTHONHASHSEED" not in os.environ


def test_works_without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes ``import numpy`` raise ImportError.
    monkeypatch.setitem(sys.modules, "numpy", None)

    seed_everything(3)
    first = random.random()
    seed_everything(3)

    assert random.random() == first


class _FakeTorch(types.ModuleType):
    """Records the calls seed_everything makes, so the torch path is tested without torch."""

    def __init__(self) -> None:
        super().__init__("torch")
        self.calls: list[tuple[str, object]] = []
        self.cuda = types.SimpleNamespace(
            manual_seed_all=lambda seed: self.calls.append(("cuda.manual_seed_all", seed))
        )
        self.backends = types.SimpleNamespace(
            cudnn=types.SimpleNamespace(deterministic=False, benchmark=True)
        )

    def manual_seed(self, seed: int) -> None:
        self.calls.append(("manual_seed", seed))

    def use_deterministic_algorithms(self, mode: bool) -> None:
        self.calls.append(("use_deterministic_algorithms", mode))


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> _FakeTorch:
    torch = _FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> Any:
        if name == "torch":
            return importlib.machinery.ModuleSpec("torch", None)
        return real_find_spec(name, package)

    monkeypatch.setattr("importlib.util.find_spec", find_spec)
    return torch


def test_torch_is_seeded(fake_torch: _FakeTorch) -> None:
    seed_everything(11)

    assert fake_torch.calls == [("manual_seed", 11), ("cuda.manual_seed_all", 11)]
    assert fake_torch.backends.cudnn.benchmark is True
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_torch_deterministic_mode(fake_torch: _FakeTorch) -> None:
    seed_everything(11, deterministic=True)

    assert ("use_deterministic_algorithms", True) in fake_torch.calls
    assert fake_torch.backends.cudnn.deterministic is True
    assert fake_torch.backends.cudnn.benchmark is False
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_user_cublas_setting_is_kept(
    fake_torch: _FakeTorch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")

    seed_everything(11, deterministic=True)

    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_same_seed_repeats_real_torch() -> None:
    import torch

    seed_everything(21)
    first = torch.rand(5)
    seed_everything(21)
    second = torch.rand(5)

    assert torch.equal(first, second)
