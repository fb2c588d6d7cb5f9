"""What a model is to trialbook: anything that turns a batch of prompts into texts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from trialbook.errors import ConfigError

__all__ = ["CallableModel", "Model", "as_model", "model_texts"]


class Model(ABC):
    """A text generator evaluated by benchmarks.

    Rules for implementations:

    * :meth:`generate` returns exactly one text per prompt, in order. It may be called from
      one thread at a time; implementations may parallelise inside it (HTTP endpoints do).
    * A failure the user can fix (endpoint unreachable, model path missing) raises a
      :class:`~trialbook.errors.TrialbookError` subclass whose message says what to do; the
      CLI prints it and exits 2.
    * ``batch_size`` is how many prompts one ``generate`` call should get; benchmarks split
      their prompts accordingly.
    * ``name`` identifies the model in results and run params.
    """

    name: str = "model"
    batch_size: int = 8

    @abstractmethod
    def generate(self, prompts: Sequence[str]) -> list[str]:
        """One output text per prompt."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections or memory; called once the evaluation is done."""


class CallableModel(Model):
    """A Python function from a list of prompts to a list of texts."""

    def __init__(
        self,
        fn: Callable[[list[str]], Sequence[str]],
        *,
        name: str | None = None,
        batch_size: int = 8,
    ) -> None:
        self.fn = fn
        self.name = name or str(getattr(fn, "__name__", "callable"))
        self.batch_size = batch_size

    def generate(self, prompts: Sequence[str]) -> list[str]:
        return model_texts(self.name, self.fn(list(prompts)), len(prompts))


def model_texts(name: str, outputs: Any, size: int) -> list[str]:
    """A model's outputs for a batch of ``size`` prompts as texts: strings as they are,
    numbers as their text. Anything else (None, a dict, one string for the whole batch) is
    refused rather than scored as its Python text ('None').

    Raises:
        ConfigError: naming the model, what it returned and for which prompt.
    """
    fix = "return a list with one string per prompt ('' for no answer), in order"
    if isinstance(outputs, str | bytes) or not isinstance(outputs, Iterable):
        raise ConfigError(
            f"Model {name!r} returned {_kind(outputs)} for a batch of {size} prompts; {fix}."
        )
    texts = []
    for i, output in enumerate(outputs):
        if isinstance(output, str):
            texts.append(output)
        elif isinstance(output, int | float) and not isinstance(output, bool):
            texts.append(str(output))
        else:
            raise ConfigError(
                f"Model {name!r} returned {_kind(output)} for prompt {i + 1} of a batch of "
                f"{size}; {fix}."
            )
    if len(texts) != size:
        raise ConfigError(
            f"Model {name!r} returned {len(texts)} texts for {size} prompts; return exactly "
            "one text per prompt, in order."
        )
    return texts


def _kind(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def as_model(obj: Any) -> Model:
    """A :class:`Model` from a Model or a callable (batch of prompts -> texts)."""
    if isinstance(obj, Model):
        return obj
    if callable(obj):
        return CallableModel(obj)
    raise ConfigError(
        f"A {type(obj).__name__} is not a model; pass a function from a list of prompts to a "
        "list of texts, or a trialbook Model."
    )
