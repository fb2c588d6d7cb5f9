"""HFCausalLM on a tiny GPT-2 built here from a config and a character-level tokenizer, saved
with save_pretrained and loaded back by path (nothing is downloaded)."""

from __future__ import annotations

import string
import sys
from pathlib import Path

import pytest

from trialbook.errors import ConfigError
from trialbook.evaluation.models import HFCausalLM, load_model

PROMPTS = ["q", "what is 2+2?", "the answer is", "hello there, how are you today?", "x y"]


def save_tiny_model(folder: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    chars = string.printable
    vocab = {"<pad>": 0, "<eos>": 1, **{c: i + 2 for i, c in enumerate(chars)}}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<pad>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", "isolated")  # one token per character
    backend.decoder = decoders.Fuse()
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<eos>", unk_token="<pad>"
    )  # no pad token: HFCausalLM falls back to eos, as for real GPT-2
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=1,
        n_head=2,
        n_embd=32,
        n_positions=1024,
        vocab_size=len(vocab),
        bos_token_id=1,
        eos_token_id=1,
    )
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    save_tiny_model(folder)
    return folder


@pytest.mark.slow  # importing transformers and torch takes a few seconds
def test_greedy_continuations_are_deterministic_and_batch_independent(tiny: Path) -> None:
    batched = HFCausalLM(tiny, batch_size=4, max_new_tokens=12)
    outputs = batched.generate(PROMPTS)
    assert len(outputs) == len(PROMPTS)
    assert all(isinstance(text, str) and len(text) <= 12 for text in outputs)
    assert batched.generate(PROMPTS) == outputs
    # Left padding must not change what a prompt continues into.
    single = HFCausalLM(tiny, batch_size=1, max_new_tokens=12)
    assert [single.generate([p])[0] for p in PROMPTS] == outputs
    assert batched.name == tiny.name and batched.batch_size == 4


@pytest.mark.slow
def test_only_the_continuation_is_returned(tiny: Path) -> None:
    import torch
    import transformers

    model = HFCausalLM(tiny, max_new_tokens=8)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny, local_files_only=True)
    reference = transformers.AutoModelForCausalLM.from_pretrained(tiny, local_files_only=True)
    for prompt, text in zip(PROMPTS, model.generate(PROMPTS), strict=True):
        ids = tokenizer(prompt, return_tensors="pt")
        with torch.inference_mode():
            full = reference.generate(
                **ids, do_sample=False, max_new_tokens=8, pad_token_id=tokenizer.eos_token_id
            )
        whole = tokenizer.decode(full[0], skip_special_tokens=True)
        assert whole == prompt + text


@pytest.mark.slow
def test_stop_strings_end_the_text_before_them(tiny: Path) -> None:
    free = HFCausalLM(tiny, max_new_tokens=12).generate(PROMPTS)
    prompt, text = next((p, t) for p, t in zip(PROMPTS, free, strict=True) if len(t) >= 4)
    stop = text[2:4]
    cut = HFCausalLM(tiny, max_new_tokens=12, stop=[stop, "never appears"]).generate([prompt])
    assert cut == [text[: text.find(stop)]]


@pytest.mark.slow
def test_model_specs_load_the_folder_with_options(tiny: Path) -> None:
    expected = HFCausalLM(tiny, max_new_tokens=5).generate(PROMPTS[:2])
    by_scheme = load_model(f"hf:{tiny}?max_new_tokens=5&batch_size=2&name=tiny&dtype=float32")
    assert isinstance(by_scheme, HFCausalLM)
    assert (by_scheme.batch_size, by_scheme.max_new_tokens, by_scheme.name) == (2, 5, "tiny")
    assert by_scheme.generate(PROMPTS[:2]) == expected
    bare = load_model(str(tiny))
    assert isinstance(bare, HFCausalLM) and bare.max_new_tokens == 256


@pytest.mark.slow
def test_generation_stops_at_the_models_context(tiny: Path) -> None:
    model = HFCausalLM(tiny, max_new_tokens=20)  # the tiny model attends to 1024 positions
    near = "ab" * 508  # 1016 tokens: 8 positions left
    outputs = model.generate([near, "q"])
    assert len(outputs[0]) <= 8
    with pytest.raises(ConfigError, match="A prompt of 1030 tokens does not fit the context of"):
        model.generate(["q", "x" * 1030])


@pytest.mark.slow
def test_evaluating_gsm8k_with_a_local_model(tiny: Path) -> None:
    from trialbook.evaluation import evaluate

    model = HFCausalLM(tiny, batch_size=2, max_new_tokens=6)
    result = evaluate(model, "gsm8k", num_samples=3, progress=False)
    assert result.n == 3
    expected = HFCausalLM(tiny, batch_size=3, max_new_tokens=6).generate(
        [sample.input for sample in result.samples]
    )
    assert [sample.output for sample in result.samples] == expected


@pytest.mark.slow
def test_bad_models_and_options_are_one_sentence(tiny: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    with pytest.raises(ConfigError, match=r"Cannot load a causal language model from '.*broken'"):
        HFCausalLM(broken)
    with pytest.raises(ConfigError, match="device='tpu9' is not a torch device"):
        HFCausalLM(tiny, device="tpu9")
    with pytest.raises(ConfigError, match="has no tokens"):
        HFCausalLM(tiny).generate(["a", ""])
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
            HFCausalLM(tiny, device="cuda")


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Model folder '.*nowhere' does not exist"):
        HFCausalLM(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match=r"has no config\.json"):
        HFCausalLM(tmp_path)
    with pytest.raises(ConfigError, match=r"Model folder '.*nowhere' does not exist"):
        load_model(f"hf:{tmp_path / 'nowhere'}")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"batch_size": 0}, "batch_size=0 is invalid"),
        ({"max_new_tokens": 1.5}, "max_new_tokens=1.5 is invalid"),
        ({"dtype": "float8"}, "dtype='float8' is not one of auto, bfloat16, float16, float32"),
    ],
)
def test_bad_options_are_refused_before_loading(
    tmp_path: Path, options: dict[str, object], match: str
) -> None:
    with pytest.raises(ConfigError, match=match):
        HFCausalLM(tmp_path, **options)  # type: ignore[arg-type]


def test_missing_transformers_says_which_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails as if not installed
    with pytest.raises(ConfigError) as caught:
        HFCausalLM(tmp_path)
    assert str(caught.value) == (
        "Loading a Hugging Face model needs transformers, which is not installed; install it "
        "with pip install 'trialbook[hf]' torch."
    )
