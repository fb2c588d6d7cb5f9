"""BenchmarkRegistry: built-ins, run-time registration (seed 002's example), plugins."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

import trialbook
from trialbook.errors import ConfigError
from trialbook.evaluation import BaseBenchmark, BenchmarkRegistry, EvaluationResult, _registry


@pytest.fixture(autouse=True)
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees the registry as a fresh process would (no plugins loaded yet)."""
    monkeypatch.setattr(BenchmarkRegistry, "_factories", {})
    monkeypatch.setattr(BenchmarkRegistry, "_sources", {})
    monkeypatch.setattr(BenchmarkRegistry, "_broken", {})
    monkeypatch.setattr(BenchmarkRegistry, "_broken_values", {})
    monkeypatch.setattr(BenchmarkRegistry, "_plugins_loaded", False)
    monkeypatch.setattr(_registry, "_WARNED", set())
    yield


class MyBenchmark(BaseBenchmark):
    """Written as seed 002's "Adding Custom Benchmarks" shows it."""

    def __init__(self) -> None:
        super().__init__("my_benchmark")

    def load_dataset(
        self, split: str = "test", num_samples: int | None = None
    ) -> list[dict[str, Any]]:
        return [{"question": f"{i}+1?", "answer": str(i + 1)} for i in range(5)]

    def extract_answer(self, text: str) -> Any:
        return text.strip()

    def check_answer(self, predicted: Any, gold: Any) -> bool:
        return bool(predicted == gold)


def _adder(prompts: list[str]) -> list[str]:
    return [str(int(p.split("+")[0]) + 1) for p in prompts]


def test_builtins_are_listed() -> None:
    assert BenchmarkRegistry.list() == ["gsm8k", "jsonl"]


def test_seed_style_custom_benchmark_registers_and_evaluates() -> None:
    BenchmarkRegistry.register("my_benchmark", MyBenchmark)
    assert "my_benchmark" in BenchmarkRegistry.list()
    result = BenchmarkRegistry.evaluate(_adder, "my_benchmark", num_samples=3, progress=False)
    assert isinstance(result, EvaluationResult)
    assert result.benchmark == "my_benchmark"
    assert result.metrics == {"accuracy": 1.0}
    assert [s.id for s in result.samples] == ["0", "1", "2"]  # positions when no id
    assert result.samples[0].input == "0+1?"


def test_top_level_names() -> None:
    assert trialbook.BenchmarkRegistry is BenchmarkRegistry
    assert trialbook.BaseBenchmark is BaseBenchmark
    result = trialbook.evaluate(_adder, MyBenchmark(), progress=False)
    assert result.metrics["accuracy"] == 1.0 and result.n == 5


def test_missing_abstract_method_fails_at_construction() -> None:
    class Half(BaseBenchmark):
        def load_dataset(
            self, split: str = "test", num_samples: int | None = None
        ) -> list[dict[str, Any]]:
            return []

    with pytest.raises(TypeError, match="abstract"):
        Half()  # type: ignore[abstract]


def test_unknown_name_lists_known_ones_with_did_you_mean() -> None:
    with pytest.raises(ConfigError) as err:
        BenchmarkRegistry.get("gsm8")
    assert str(err.value) == (
        "Unknown benchmark 'gsm8'; the registered ones are gsm8k, jsonl (did you mean 'gsm8k'?)."
    )


def test_unknown_option_is_named() -> None:
    with pytest.raises(ConfigError, match="no option 'extractoin'; did you mean 'extraction'"):
        BenchmarkRegistry.get("gsm8k", extractoin="strict")
    assert BenchmarkRegistry.get("gsm8k", extraction="flexible", shots=8).options() == {
        "extraction": "flexible",
        "shots": 8,
    }


def test_instances_and_factories_register() -> None:
    instance = MyBenchmark()
    BenchmarkRegistry.register("ready", instance)
    assert BenchmarkRegistry.get("ready") is instance
    with pytest.raises(ConfigError, match="ready instance and takes no options"):
        BenchmarkRegistry.get("ready", shots=8)
    BenchmarkRegistry.register("made", lambda: MyBenchmark())
    assert isinstance(BenchmarkRegistry.get("made"), MyBenchmark)
    BenchmarkRegistry.register("bad", lambda: 42)
    with pytest.raises(ConfigError, match="produced a int, not a BaseBenchmark"):
        BenchmarkRegistry.get("bad")
    with pytest.raises(ConfigError, match="Cannot register 42"):
        BenchmarkRegistry.register("x", 42)  # type: ignore[arg-type]
    BenchmarkRegistry.unregister("made")
    assert "made" not in BenchmarkRegistry.list()


def test_info_describes_benchmarks() -> None:
    info = BenchmarkRegistry.info("gsm8k")
    assert info.splits == ("test", "train")
    assert info.sizes == {"test": 1319, "train": 7473}
    jsonl = BenchmarkRegistry.info("jsonl")  # needs a file: sizes unknown, no crash
    assert jsonl.sizes == {"test": None} and "JSONL" in jsonl.description
    BenchmarkRegistry.register("my_benchmark", MyBenchmark)
    mine = BenchmarkRegistry.info("my_benchmark")
    assert mine.description.startswith("Written as seed 002")
    assert mine.to_dict()["source"] == "registered"


def _entry_points(*eps: SimpleNamespace) -> Any:
    def fake(group: str) -> list[SimpleNamespace]:
        assert group == "trialbook.benchmarks"
        return list(eps)

    return fake


def test_plugins_load_lazily_and_a_broken_one_warns(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    loaded: list[str] = []

    def good_load() -> type[BaseBenchmark]:
        loaded.append("good")
        return MyBenchmark

    def broken_load() -> Any:
        raise ImportError("No module named 'missing_dep'")

    monkeypatch.setattr(
        _registry,
        "entry_points",
        _entry_points(
            SimpleNamespace(name="plugged", value="pkg.mod:MyBenchmark", load=good_load),
            SimpleNamespace(name="broken", value="other.mod:Thing", load=broken_load),
        ),
    )
    BenchmarkRegistry.register("early", MyBenchmark)
    assert loaded == []  # registering does not load plugins
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a log line, not a Python warning with a source line
        with caplog.at_level(logging.WARNING, logger="trialbook"):
            names = BenchmarkRegistry.list()
    (message,) = [r.getMessage() for r in caplog.records]
    assert "plugin 'broken' (other.mod:Thing) could not be loaded" in message
    assert "missing_dep" in message and "\n" not in message
    assert names == ["early", "gsm8k", "jsonl", "plugged"]
    assert loaded == ["good"]
    assert BenchmarkRegistry.info("plugged").source == "plugin pkg.mod:MyBenchmark"
    with pytest.raises(ConfigError, match=r"plugin 'broken' failed to load.*missing_dep"):
        BenchmarkRegistry.get("broken")
    with caplog.at_level(logging.WARNING, logger="trialbook"):
        BenchmarkRegistry.list()  # loaded once: no second warning, no second import
    assert loaded == ["good"] and len(caplog.records) == 1


def test_a_broken_plugin_asked_for_by_name_is_only_the_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken_load() -> Any:
        raise ImportError("No module named 'missing_dep'")

    monkeypatch.setattr(
        _registry,
        "entry_points",
        _entry_points(SimpleNamespace(name="broken", value="other.mod:Thing", load=broken_load)),
    )
    with caplog.at_level(logging.WARNING, logger="trialbook"):
        with pytest.raises(ConfigError, match=r"plugin 'broken' failed to load.*missing_dep"):
            BenchmarkRegistry.get("broken")
        BenchmarkRegistry.list()
    assert caplog.records == []  # the error named it; no warning besides, then or later
