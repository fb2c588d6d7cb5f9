"""The evaluation loop: batching, latency, timing, model failures, argument checks."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from trialbook.errors import ConfigError, ModelError
from trialbook.evaluation import GSM8K, Model, PredictionsFile, evaluate


class Recorder(Model):
    """Answers every prompt with the gold solution; records the batches it was given."""

    name = "recorder"

    def __init__(self, batch_size: int = 8) -> None:
        self.batch_size = batch_size
        self.batches: list[int] = []
        self.closed = 0
        self.gold = {GSM8K().format_prompt(s): s["solution"] for s in GSM8K().load_dataset()}

    def generate(self, prompts: Sequence[str]) -> list[str]:
        self.batches.append(len(prompts))
        return [self.gold[p] for p in prompts]

    def close(self) -> None:
        self.closed += 1


def test_prompts_go_in_batches_of_the_models_size() -> None:
    model = Recorder(batch_size=4)
    result = evaluate(model, "gsm8k", num_samples=10, progress=False)
    assert model.batches == [4, 4, 2]
    assert model.closed == 1
    assert result.config["batch_size"] == 4 and result.config["model"] == "recorder"
    assert result.metrics["accuracy"] == 1.0


def test_batch_size_argument_wins() -> None:
    model = Recorder(batch_size=4)
    evaluate(model, "gsm8k", num_samples=10, batch_size=3, progress=False)
    assert model.batches == [3, 3, 3, 1]


def test_timing_and_latency_are_consistent() -> None:
    result = evaluate(Recorder(batch_size=5), "gsm8k", num_samples=10, progress=False)
    t = result.timing
    assert t.total >= t.model > 0
    assert t.per_sample == pytest.approx(t.total / 10)
    assert t.throughput == pytest.approx(10 / t.total)
    latencies = [s.latency for s in result.samples]
    assert latencies[0] == latencies[4] and latencies[5] == latencies[9]  # one per batch
    assert sum(latencies) == pytest.approx(t.model)  # type: ignore[arg-type]


def test_result_records_options_and_split() -> None:
    result = evaluate(Recorder(), "gsm8k", num_samples=2, extraction="flexible", progress=False)
    assert result.split == "test" and result.benchmark == "gsm8k"
    assert result.config["extraction"] == "flexible"
    assert result.config["num_samples"] == 2
    d = result.to_dict()
    assert d["n"] == 2 and d["samples"][0]["output"].endswith("#### 18")


def test_wrong_number_of_outputs_is_refused() -> None:
    with pytest.raises(ConfigError, match="returned 1 texts for 2 prompts"):
        evaluate(lambda p: ["x"], "gsm8k", num_samples=2, progress=False)


def test_connection_errors_become_model_errors_and_close_the_model() -> None:
    class Down(Model):
        name = "down"
        closed = False

        def generate(self, prompts: Sequence[str]) -> list[str]:
            raise ConnectionRefusedError("[Errno 111] Connection refused")

        def close(self) -> None:
            self.closed = True

    model = Down()
    with pytest.raises(ModelError, match="Model 'down' could not be reached"):
        evaluate(model, "gsm8k", num_samples=2, progress=False)
    assert model.closed


def test_model_errors_pass_through() -> None:
    def failing(prompts: list[str]) -> list[str]:
        raise ModelError("Endpoint http://x refused the key; set OPENAI_API_KEY.")

    with pytest.raises(ModelError, match="refused the key"):
        evaluate(failing, "gsm8k", num_samples=1, progress=False)


@pytest.mark.parametrize("name", ["num_samples", "batch_size"])
@pytest.mark.parametrize("value", [0, -1, 2.5, True])
def test_counts_must_be_positive_integers(name: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"{name} must be a whole number of at least 1"):
        evaluate(Recorder(), "gsm8k", progress=False, **{name: value})


def test_not_a_model_is_refused() -> None:
    with pytest.raises(ConfigError, match="A int is not a model"):
        evaluate(42, "gsm8k", progress=False)


def test_options_with_an_instance_are_refused() -> None:
    with pytest.raises(ConfigError, match="Options shots apply to a benchmark name"):
        evaluate(Recorder(), GSM8K(), shots=8, progress=False)


def test_progress_bar_draws_on_a_terminal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import io
    import sys

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    result = evaluate(Recorder(), "gsm8k", num_samples=3, progress=True)
    assert result.n == 3
    assert "gsm8k" in err.getvalue()  # the bar's label was drawn
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"id": "1", "prediction": "#### 3"}\n', encoding="utf-8")
    source = PredictionsFile(preds, allow_missing=True)
    assert evaluate(source, "gsm8k", num_samples=600, progress=True).n == 1
    quiet = Tty()
    monkeypatch.setattr(sys, "stderr", quiet)
    evaluate(Recorder(), "gsm8k", num_samples=3, progress=False)
    assert quiet.getvalue() == ""


# -- issue 9: outputs that are not text -----------------------------------------------------------


class Returns(Model):
    """A Model subclass returning ``outputs`` for every batch."""

    name = "returns"
    batch_size = 2

    def __init__(self, outputs: Any) -> None:
        self.outputs = outputs

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return self.outputs  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("outputs", "fragment"),
    [
        (["#### 18", None], "returned None for prompt 2 of a batch of 2"),
        ([{"text": "18"}, "x"], "returned a dict for prompt 1 of a batch of 2"),
        (["x", True], "returned a bool for prompt 2"),
        ("ab", "returned a str for a batch of 2 prompts"),
        (None, "returned None for a batch of 2 prompts"),
    ],
)
@pytest.mark.parametrize("kind", ["function", "Model"])
def test_outputs_that_are_not_text_are_refused(outputs: Any, fragment: str, kind: str) -> None:
    model: Any = (lambda prompts: outputs) if kind == "function" else Returns(outputs)
    with pytest.raises(ConfigError, match=fragment) as err:
        evaluate(model, "gsm8k", num_samples=2, progress=False)
    assert "return a list with one string per prompt ('' for no answer)" in str(err.value)


def test_numbers_are_scored_as_their_text() -> None:
    result = evaluate(lambda prompts: [18, 3.0], "gsm8k", num_samples=2, progress=False)
    assert [s.output for s in result.samples] == ["18", "3.0"]


def test_progress_label_is_text_not_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import sys

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Tty()
    monkeypatch.setattr(sys, "stderr", err)
    model = Recorder()
    model.name = "[/]\x1b[31m"  # a closing tag with nothing to close raised MarkupError
    assert evaluate(model, "gsm8k", num_samples=2, progress=True).n == 2
    assert "[/]\\x1b[31m" in err.getvalue()
