"""load_model: the --model SPEC forms, their options and their errors (the hf: form's loading
is in test_eval_models_hf.py)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trialbook.errors import ConfigError
from trialbook.evaluation import models
from trialbook.evaluation._model import CallableModel, Model
from trialbook.evaluation.models import OpenAICompatible, load_model

_counter = itertools.count()


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A fresh module name in a fresh folder that is the current directory."""
    name = f"tb_user_models_{next(_counter)}"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name, tmp_path / f"{name}.py"


USER_CODE = textwrap.dedent(
    """
    from trialbook.evaluation._model import Model

    def shout(prompts):
        return [p.upper() for p in prompts]

    def make_shouter():
        return shout

    def make_model():
        return Echo()

    class Echo(Model):
        name = "echo"
        def generate(self, prompts):
            return list(prompts)

    ready = Echo()
    not_a_model = 42

    def two_args(prompts, extra):
        return prompts

    def broken_factory():
        raise RuntimeError("no weights here")

    def make_nothing():
        return 42
    """
)


def test_python_function_becomes_a_callable_model(module: tuple[str, Path]) -> None:
    name, path = module
    path.write_text(USER_CODE)
    model = load_model(f"python:{name}:shout?batch_size=3")
    assert isinstance(model, CallableModel)
    assert model.generate(["a", "b"]) == ["A", "B"]
    assert (model.batch_size, model.name) == (3, f"{name}:shout")


@pytest.mark.parametrize(
    ("attr", "kind", "name"),
    [
        ("make_shouter", CallableModel, "shout"),  # factory returning a function
        ("make_model", Model, "echo"),  # factory returning a Model
        ("Echo", Model, "echo"),  # a Model subclass, built without arguments
        ("ready", Model, "echo"),  # a Model instance
    ],
)
def test_python_factories_classes_and_instances(
    module: tuple[str, Path], attr: str, kind: type, name: str
) -> None:
    module_name, path = module
    path.write_text(USER_CODE)
    model = load_model(f"python:{module_name}:{attr}")
    assert isinstance(model, kind)
    assert model.name == name
    assert model.generate(["x"]) in (["X"], ["x"])
    renamed = load_model(f"python:{module_name}:{attr}?name=mine&batch_size=2")
    assert (renamed.name, renamed.batch_size) == ("mine", 2)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("python:{m}:shuot", r"has no 'shuot' .*; did you mean 'shout'\?"),
        ("python:{m}:not_a_model", "is an int, not a function from a list of prompts"),
        ("python:{m}:make_nothing", r"the factory '.*:make_nothing' returned an int, not"),
        ("python:{m}:two_args", "takes 2 arguments; a model function takes one"),
        ("python:{m}:broken_factory", "raised RuntimeError: no weights here; fix the factory"),
        ("python:{m}", r"is not python:MODULE:FUNCTION"),
        (
            "python:{m}:shout?batch_size=-3",
            r"batch_size='-3' .* is not a whole number of at least 1",
        ),
        ("python:{m}:shout?batch_size=0", r"batch_size='0' .* is not a whole number of at least 1"),
        ("python:tb_no_such_module_xyz:f", "No module named 'tb_no_such_module_xyz'"),
        (
            "python:{m}:shout?batch=2",
            r"Unknown option 'batch' .*\(python: takes batch_size, name\); "
            r"did you mean 'batch_size'\?",
        ),
    ],
)
def test_python_spec_errors_are_one_sentence(
    module: tuple[str, Path], spec: str, match: str
) -> None:
    name, path = module
    path.write_text(USER_CODE)
    with pytest.raises(ConfigError, match=match) as caught:
        load_model(spec.format(m=name))
    assert_one_sentence(str(caught.value))


def assert_one_sentence(message: str) -> None:
    assert message.endswith((".", "?")) and not message.endswith("?.")
    assert "\n" not in message


def test_python_module_that_fails_to_import(module: tuple[str, Path]) -> None:
    name, path = module
    path.write_text("import tb_missing_dependency_xyz\n")
    with pytest.raises(ConfigError, match="it needs the module 'tb_missing_dependency_xyz'"):
        load_model(f"python:{name}:f")
    path.write_text("1 / 0\n")
    with pytest.raises(ConfigError, match="raised ZeroDivisionError: division by zero"):
        load_model(f"python:{name}:f")


def test_openai_spec_options_reach_the_model() -> None:
    model = load_model(
        "openai:http://127.0.0.1:8000/v1/?model=Qwen/Qwen2.5-0.5B&concurrency=2&chat=false"
        "&max_tokens=64&temperature=0.5&timeout=30&max_retries=1&backoff=0.1"
        "&stop=%0A%0A&stop=Question:&batch_size=10"
    )
    assert isinstance(model, OpenAICompatible)
    assert model.url == "http://127.0.0.1:8000/v1/completions"
    assert (model.model, model.name) == ("Qwen/Qwen2.5-0.5B", "Qwen/Qwen2.5-0.5B")
    assert (model.concurrency, model.chat, model.max_tokens, model.temperature) == (
        2,
        False,
        64,
        0.5,
    )
    assert (model.timeout, model.max_retries, model.backoff) == (30.0, 1, 0.1)
    assert model.stop == ["\n\n", "Question:"]
    assert model.batch_size == 10
    default = load_model("openai:https://api.example.com/v1?model=gpt-x")
    assert isinstance(default, OpenAICompatible)
    assert default.url == "https://api.example.com/v1/chat/completions"
    assert (default.concurrency, default.max_retries, default.chat) == (8, 3, True)


def test_openai_api_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_LLM_KEY", "sk-mine")
    model = load_model("openai:http://127.0.0.1:8000/v1?model=m&api_key_env=MY_LLM_KEY")
    assert isinstance(model, OpenAICompatible)
    assert model._api_key == "sk-mine"
    monkeypatch.delenv("MY_LLM_KEY")
    with pytest.raises(ConfigError, match="api_key_env=MY_LLM_KEY names an environment variable"):
        load_model("openai:http://127.0.0.1:8000/v1?model=m&api_key_env=MY_LLM_KEY")


def test_an_api_key_in_the_spec_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_model("openai:http://127.0.0.1:8000/v1?model=m&api_key=sk-secret123")
    assert "sk-secret123" not in str(caught.value)
    assert "OPENAI_API_KEY" in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("openai:http://localhost:8000/v1", r"names no model; add \?model=NAME"),
        ("openai:localhost:8000/v1?model=m", "does not hold an http"),
        (
            "openai:http://h/v1?model=m&concurency=2",
            r"Unknown option 'concurency' .*; did you mean 'concurrency'\?",
        ),
        ("openai:http://h/v1?model=m&concurrency=many", r"concurrency='many' .* is not a whole"),
        ("openai:http://h/v1?model=m&chat=maybe", "is not true or false"),
        (
            "openai:http://h/v1?model=m&concurrency=0",
            "concurrency='0' .* is not a whole number of at least 1",
        ),
        ("openai:http://h/v1?model=m&batch_size=-2", "batch_size='-2' .* at least 1"),
        ("openai:http://h/v1?model=m&model=n", "Option 'model' is given twice"),
        ("openai:http://h/v1?model=m&timeout", "are not KEY=VALUE pairs"),
        (
            "http://localhost:8000/v1",
            r"is a bare URL; write openai:http://localhost:8000/v1\?model",
        ),
        ("openia:http://h/v1?model=m", r"unknown scheme 'openia', did you mean openai:\?"),
        ("no/such/folder", "is neither an existing model folder nor one of hf:PATH"),
        ("  ", "The model spec is empty"),
    ],
)
def test_bad_specs_are_one_sentence(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as caught:
        load_model(spec)
    assert_one_sentence(str(caught.value))


def test_unknown_forms_list_every_form() -> None:
    with pytest.raises(ConfigError) as caught:
        load_model("vllm:whatever")
    for form in ("hf:PATH", "openai:URL?model=NAME", "python:MODULE:FUNCTION"):
        assert form in str(caught.value)


def test_public_names_are_sorted_and_resolvable() -> None:
    assert models.__all__ == sorted(
        models.__all__, key=lambda n: (0 if n.isupper() else 1 if n[:1].isupper() else 2, n)
    )
    for name in models.__all__:
        assert getattr(models, name) is not None


def test_importing_trialbook_evaluation_loads_neither_httpx_nor_transformers() -> None:
    code = (
        "import sys, trialbook, trialbook.evaluation, trialbook.evaluation.models as m\n"
        "m.load_model\n"
        "print(','.join(x for x in ('httpx', 'transformers', 'torch') if x in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
