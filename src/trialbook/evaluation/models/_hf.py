"""A local Hugging Face causal language model, loaded from a folder and decoded greedily in
batches. transformers and torch are optional: they are imported only here, when a model is
built."""

from __future__ import annotations

import gc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trialbook.errors import ConfigError, ModelError
from trialbook.evaluation._model import Model

__all__ = ["HFCausalLM"]

_DTYPES = {
    "auto": "auto",
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


class HFCausalLM(Model):
    """A causal LM (GPT-2, Llama, Qwen, ...) saved with ``save_pretrained`` in a local folder.

    The tokenizer and the weights are read from ``path`` only (``local_files_only``: nothing
    is downloaded), when the object is built. ``generate`` encodes each batch with left
    padding, decodes greedily (``do_sample=False``) up to ``max_new_tokens`` new tokens and
    returns only the continuation, cut before the first of the ``stop`` strings. Greedy
    decoding makes the outputs deterministic and the same whatever the batch size (up to
    floating-point ties).

    Args:
        path: the model folder (``config.json``, weights, tokenizer files).
        batch_size: prompts decoded together.
        max_new_tokens: the most tokens generated per prompt.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` (CUDA when
            available).
        dtype: ``None`` (the library's default, float32), ``"auto"`` (as saved),
            ``"float32"``, ``"float16"`` or ``"bfloat16"``.
        stop: strings that end a generation (e.g. ``"\\n\\nQuestion:"``); not included in
            the output.
        name: the model's name in results; defaults to the folder's name.

    Raises:
        ConfigError: transformers or torch is missing (install ``trialbook[hf]``), the
            folder is missing or holds no loadable model, or an option is invalid.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        batch_size: int = 8,
        max_new_tokens: int = 256,
        device: str = "cpu",
        dtype: str | None = None,
        stop: str | Sequence[str] | None = None,
        name: str | None = None,
    ) -> None:
        for option, value in (("batch_size", batch_size), ("max_new_tokens", max_new_tokens)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{option}={value!r} is invalid; use a whole number >= 1.")
        if dtype is not None and dtype not in _DTYPES:
            raise ConfigError(
                f"dtype={dtype!r} is not one of {', '.join(sorted(set(_DTYPES.values())))}; "
                "leave it out for float32."
            )
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise ConfigError(
                f"Model folder {str(folder)!r} does not exist; give the folder a Hugging Face "
                "model was saved to (with save_pretrained)."
            )
        if not (folder / "config.json").is_file():
            raise ConfigError(
                f"Model folder {str(folder)!r} has no config.json; give the folder a Hugging "
                "Face model was saved to (with save_pretrained)."
            )
        self.path = folder
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.stop = [stop] if isinstance(stop, str) else [s for s in stop or [] if s]
        self.name = name or folder.resolve().name
        torch, transformers = _import_backend()
        self.device = _device(torch, device)
        load_options: dict[str, Any] = {"local_files_only": True}
        if dtype is not None:
            choice = _DTYPES[dtype]
            load_options["dtype"] = choice if choice == "auto" else getattr(torch, choice)
        try:
            tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = transformers.AutoModelForCausalLM.from_pretrained(folder, **load_options)
        except (OSError, ValueError, KeyError, ImportError) as e:
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ConfigError(
                f"Cannot load a causal language model from {str(folder)!r} ({first}); check "
                "that the folder holds a complete save_pretrained model and tokenizer."
            ) from e
        if tokenizer.pad_token_id is None:
            # Most causal LMs ship without a pad token; with left padding and an attention
            # mask, the end-of-text token is a safe filler.
            if tokenizer.eos_token is None:
                raise ConfigError(
                    f"The tokenizer in {str(folder)!r} has neither a pad nor an end-of-text "
                    "token; add a pad_token to its tokenizer_config.json."
                )
            tokenizer.pad_token = tokenizer.eos_token
        # Left padding keeps every prompt's last token at the end of the row, where greedy
        # decoding continues from.
        tokenizer.padding_side = "left"
        self._tokenizer: Any = tokenizer
        self._model: Any = model.to(self.device).eval()
        self._torch: Any = torch
        self._transformers: Any = transformers
        # The longest sequence the model can attend to (None: no fixed limit known).
        context = getattr(model.config, "max_position_embeddings", None)
        self._context: int | None = context if isinstance(context, int) and context > 0 else None

    def __repr__(self) -> str:
        return f"HFCausalLM({str(self.path)!r})"

    def generate(self, prompts: Sequence[str]) -> list[str]:
        """Greedy continuations of ``prompts``, ``batch_size`` at a time, in order."""
        if self._model is None:
            raise ConfigError(f"The model {self.name!r} was closed; build a new HFCausalLM.")
        texts: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            texts.extend(self._generate_batch(list(prompts[start : start + self.batch_size])))
        return texts

    def _generate_batch(self, prompts: list[str]) -> list[str]:
        tokenizer = self._tokenizer
        encoded = tokenizer(prompts, return_tensors="pt", padding=True, return_token_type_ids=False)
        lengths = encoded["attention_mask"].sum(dim=1).tolist()
        if 0 in lengths:
            raise ConfigError(
                f"Prompt {prompts[lengths.index(0)]!r} has no tokens; a causal language model "
                "needs at least one token to continue."
            )
        encoded = encoded.to(self.device)
        width = encoded["input_ids"].shape[1]
        new_tokens = self.max_new_tokens
        if self._context is not None:
            if max(lengths) >= self._context:
                raise ConfigError(
                    f"A prompt of {max(lengths)} tokens does not fit the context of "
                    f"{self._context} tokens of the model {self.name!r}; use shorter prompts "
                    "(fewer shots) or a model with a longer context."
                )
            # Past the context the position embeddings run out (an IndexError deep in
            # torch); generation simply ends there instead.
            new_tokens = min(new_tokens, self._context - width)
        options: dict[str, Any] = {
            "do_sample": False,
            "num_beams": 1,
            "max_new_tokens": new_tokens,
            "pad_token_id": tokenizer.pad_token_id,
        }
        if self.stop:
            # Ends each row early. transformers' own stop_strings would also match a stop
            # string that starts in the prompt; ours look at the continuation only.
            options["stopping_criteria"] = self._transformers.StoppingCriteriaList(
                [_stop_criterion(self._transformers, tokenizer, self.stop, start=width)]
            )
        out_of_memory = getattr(self._torch.cuda, "OutOfMemoryError", MemoryError)
        try:
            with self._torch.inference_mode():
                output = self._model.generate(**encoded, **options)
        except (out_of_memory, MemoryError) as e:
            raise ModelError(
                f"The model {self.name!r} ran out of memory generating a batch of "
                f"{len(prompts)} prompts of up to {width} tokens; lower batch_size or "
                "max_new_tokens."
            ) from e
        continuation = output[:, width:]
        decoded = tokenizer.batch_decode(continuation, skip_special_tokens=True)
        return [_cut(text, self.stop) for text in decoded]

    def close(self) -> None:
        """Free the weights (and the GPU memory they held)."""
        self._model = None
        gc.collect()
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()


def _stop_criterion(transformers: Any, tokenizer: Any, stop: Sequence[str], start: int) -> Any:
    """Stops each row once its continuation (tokens from ``start`` on) holds a stop string."""

    class StopOnStrings(transformers.StoppingCriteria):  # type: ignore[misc]
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            texts = tokenizer.batch_decode(input_ids[:, start:], skip_special_tokens=True)
            done = [any(s in text for s in stop) for text in texts]
            return input_ids.new_tensor(done).bool()

    return StopOnStrings()


def _cut(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the earliest stop string."""
    end = min((i for i in (text.find(s) for s in stop) if i >= 0), default=len(text))
    return text[:end]


def _import_backend() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError as e:
        missing = e.name or "transformers"
        raise ConfigError(
            f"Loading a Hugging Face model needs {missing}, which is not installed; install "
            "it with pip install 'trialbook[hf]' torch."
        ) from e
    return torch, transformers


def _device(torch: Any, device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(
            f"device={device!r} is not a torch device; use cpu, cuda, cuda:N, mps or auto."
        ) from e
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"device={device!r} but torch sees no CUDA GPU here; use device=cpu or install "
            "a CUDA build of torch."
        )
    return device
