"""``--model SPEC``: one string naming a model and its options, as the CLI takes it.

The forms (``docs/models.md`` has examples)::

    hf:PATH[?OPTIONS]                    a local Hugging Face causal LM
    PATH                                 the same, when PATH is an existing folder
    openai:URL?model=NAME[&OPTIONS]      an OpenAI-compatible endpoint
    python:MODULE:NAME[?OPTIONS]         a function (prompts -> texts), a Model, or a factory

Options are URL query parameters (``?batch_size=4&stop=%0A%0A``), percent-decoded.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from trialbook.config._suggest import a_or_an, closest, did_you_mean
from trialbook.errors import ConfigError
from trialbook.evaluation._model import CallableModel, Model

__all__ = ["SPEC_FORMS", "load_model"]

#: The forms, for messages: "use a model folder, {SPEC_FORMS}".
SPEC_FORMS = "hf:PATH, openai:URL?model=NAME or python:MODULE:FUNCTION"

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_PYTHON_TARGET = re.compile(
    rf"^(?P<module>{_IDENT}(?:\.{_IDENT})*):(?P<attr>{_IDENT}(?:\.{_IDENT})*)$"
)
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*):")


@dataclass(frozen=True)
class _Option:
    kind: Callable[[str], Any]
    what: str  # for messages: "a whole number", "true or false"...
    example: str
    repeat: bool = False  # may be given more than once (collected into a list)


def _int(text: str) -> int:
    return int(text)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _float(text: str) -> float:
    return float(text)


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(text)


def _text(text: str) -> str:
    if not text:
        raise ValueError(text)
    return text


_HF_OPTIONS = {
    "batch_size": _Option(_positive_int, "a whole number of at least 1", "batch_size=8"),
    "device": _Option(_text, "a device", "device=cuda"),
    "dtype": _Option(_text, "a dtype", "dtype=bfloat16"),
    "max_new_tokens": _Option(_positive_int, "a whole number of at least 1", "max_new_tokens=256"),
    "name": _Option(_text, "a name", "name=my-model"),
    "stop": _Option(_text, "a string", "stop=%0A%0A", repeat=True),
}
_OPENAI_OPTIONS = {
    "api_key_env": _Option(_text, "an environment variable's name", "api_key_env=MY_KEY"),
    "backoff": _Option(_float, "a number of seconds", "backoff=0.5"),
    "batch_size": _Option(_positive_int, "a whole number of at least 1", "batch_size=32"),
    "chat": _Option(_bool, "true or false", "chat=false"),
    "concurrency": _Option(_positive_int, "a whole number of at least 1", "concurrency=8"),
    "max_retries": _Option(_int, "a whole number", "max_retries=3"),
    "max_tokens": _Option(_positive_int, "a whole number of at least 1", "max_tokens=256"),
    "model": _Option(_text, "a model name", "model=Qwen2.5-0.5B-Instruct"),
    "stop": _Option(_text, "a string", "stop=%0A%0A", repeat=True),
    "temperature": _Option(_float, "a number", "temperature=0"),
    "timeout": _Option(_float, "a number of seconds", "timeout=60"),
}
_PYTHON_OPTIONS = {
    "batch_size": _Option(_positive_int, "a whole number of at least 1", "batch_size=8"),
    "name": _Option(_text, "a name", "name=my-model"),
}


def load_model(spec: str) -> Model:
    """The model a ``--model`` spec names, ready to generate.

    * ``hf:PATH`` or an existing folder: :class:`HFCausalLM` (options ``batch_size``,
      ``max_new_tokens``, ``device``, ``dtype``, ``stop``, ``name``).
    * ``openai:URL?model=NAME``: :class:`OpenAICompatible` (options ``concurrency``,
      ``max_retries``, ``backoff``, ``timeout``, ``chat``, ``max_tokens``, ``temperature``,
      ``stop``, ``api_key_env``, ``batch_size``). The API key comes from the environment
      (``OPENAI_API_KEY`` or the variable ``api_key_env`` names), never from the spec.
    * ``python:MODULE:NAME``: NAME is a function from a list of prompts to a list of texts,
      a :class:`Model` instance or subclass, or a factory (callable with no arguments)
      returning either; the current folder is searched first, as with ``python -m``
      (options ``batch_size``, ``name``).

    Raises:
        ConfigError: the spec has no known form, an option is unknown or malformed, the
            module or function cannot be found, or the model cannot be loaded.
    """
    text = spec.strip()
    if not text:
        raise ConfigError(f"The model spec is empty; give a model folder, {SPEC_FORMS}.")
    match = _SCHEME.match(text)
    scheme = match["scheme"].lower() if match else None
    if scheme == "hf":
        return _load_hf(spec, text[len("hf:") :])
    if scheme == "openai":
        return _load_openai(spec, text[len("openai:") :])
    if scheme == "python":
        return _load_python(spec, text[len("python:") :])
    if Path(text).expanduser().is_dir():
        return _load_hf(spec, text)
    if scheme in ("http", "https"):
        raise ConfigError(
            f"Model spec {spec!r} is a bare URL; write openai:{text}?model=NAME for an "
            "OpenAI-compatible endpoint."
        )
    if scheme is not None:
        guess = closest(scheme, ["hf", "openai", "python"])
        hint = f", did you mean {guess}:?" if guess else ""
        raise ConfigError(
            f"Model spec {spec!r} is neither an existing model folder nor a known form "
            f"(unknown scheme {scheme!r}{hint}); use a model folder, {SPEC_FORMS}."
        )
    raise ConfigError(
        f"Model spec {spec!r} is neither an existing model folder nor one of {SPEC_FORMS}; "
        "check the path."
    )


# -- hf ---------------------------------------------------------------------------------------


def _load_hf(spec: str, rest: str) -> Model:
    from trialbook.evaluation.models._hf import HFCausalLM

    path, query = rest, ""
    # A folder whose name holds "?" is taken whole; otherwise "?" starts the options.
    if "?" in rest and not Path(rest).expanduser().is_dir():
        path, query = rest.split("?", 1)
    if not path:
        raise ConfigError(f"Model spec {spec!r} names no folder; write hf:PATH.")
    options = _parse_options(spec, query, _HF_OPTIONS, "hf")
    return HFCausalLM(path, **options)


# -- openai -----------------------------------------------------------------------------------


def _load_openai(spec: str, rest: str) -> Model:
    from trialbook.evaluation.models._openai import OpenAICompatible

    parts = urlsplit(rest)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"Model spec {spec!r} does not hold an http(s) URL after openai:; write it like "
            "openai:http://localhost:8000/v1?model=NAME."
        )
    options = _parse_options(spec, parts.query, _OPENAI_OPTIONS, "openai")
    model = options.pop("model", None)
    if model is None:
        raise ConfigError(
            f"Model spec {spec!r} names no model; add ?model=NAME (the name the server "
            "serves, as in its /models list)."
        )
    env = options.get("api_key_env")
    if env is not None and not os.environ.get(env):
        raise ConfigError(
            f"api_key_env={env} names an environment variable that is not set; export {env} "
            "with the API key, or leave the option out to use OPENAI_API_KEY."
        )
    base_url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return OpenAICompatible(base_url, model, **options)


# -- python -----------------------------------------------------------------------------------


def _load_python(spec: str, rest: str) -> Model:
    target, _, query = rest.partition("?")
    match = _PYTHON_TARGET.match(target.strip())
    if match is None:
        raise ConfigError(
            f"Model spec {spec!r} is not python:MODULE:FUNCTION; write it like "
            "python:mypackage.models:generate."
        )
    options = _parse_options(spec, query, _PYTHON_OPTIONS, "python")
    module_name, attr = match["module"], match["attr"]
    module = _import(spec, module_name)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise ConfigError(
                f"Module {module_name!r} has no {attr!r} for model spec {spec!r}"
                f"{did_you_mean(part, names) or '; check the name after the colon.'}"
            )
        obj = getattr(obj, part)
    model = _as_model(spec, obj, default_name=f"{module_name}:{attr}", **options)
    return model


@contextmanager
def _cwd_first() -> Iterator[None]:
    # The CLI's sys.path starts with its script's folder, not the user's; ``python -m``
    # semantics (the current folder first) are what users expect of MODULE.
    entry = os.getcwd()
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def _import(spec: str, module_name: str) -> Any:
    try:
        with _cwd_first():
            return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name is not None and (module_name + ".").startswith(e.name + "."):
            raise ConfigError(
                f"No module named {e.name!r} for model spec {spec!r}; run from the folder "
                "that holds it, add it to PYTHONPATH or install its package."
            ) from e
        raise ConfigError(
            f"Importing {module_name!r} for model spec {spec!r} failed: it needs the module "
            f"{e.name!r}, which is not installed."
        ) from e
    except Exception as e:
        raise ConfigError(
            f"Importing {module_name!r} for model spec {spec!r} raised {type(e).__name__}: "
            f"{e}; fix the module."
        ) from e


def _required_positional(fn: Any) -> int | None:
    """How many positional arguments ``fn`` needs (``*args`` counts as one); None when its
    signature cannot be read (some builtins)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    count = 0
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            return max(count, 1)
        if (
            parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)
            and parameter.default is parameter.empty
        ):
            count += 1
    return count


def _as_model(
    spec: str,
    obj: Any,
    *,
    default_name: str,
    batch_size: int | None = None,
    name: str | None = None,
    factory_called: bool = False,
) -> Model:
    if isinstance(obj, type) and issubclass(obj, Model) and not factory_called:
        try:
            obj = obj()
        except TypeError as e:
            raise ConfigError(
                f"Model class {default_name!r} of spec {spec!r} cannot be built without "
                f"arguments ({e}); point the spec at a factory function that builds it."
            ) from e
        factory_called = True
    if isinstance(obj, Model):
        if batch_size is not None:
            obj.batch_size = batch_size
        if name is not None:
            obj.name = name
        return obj
    if not callable(obj):
        what = f"the factory {default_name!r}" if factory_called else repr(default_name)
        verb = "returned" if factory_called else "is"
        raise ConfigError(
            f"In model spec {spec!r}, {what} {verb} {a_or_an(type(obj).__name__)}, not a "
            "function from a list of prompts to a list of texts, a Model or a factory."
        )
    required = _required_positional(obj)
    if required == 0 and not factory_called:
        try:
            made = obj()
        except Exception as e:
            raise ConfigError(
                f"The model factory {default_name!r} of spec {spec!r} raised "
                f"{type(e).__name__}: {e}; fix the factory."
            ) from e
        return _as_model(
            spec,
            made,
            default_name=default_name,
            batch_size=batch_size,
            name=name,
            factory_called=True,
        )
    if required is not None and required > 1:
        raise ConfigError(
            f"{default_name!r} of model spec {spec!r} takes {required} arguments; a model "
            "function takes one, the list of prompts, and returns one text per prompt."
        )
    fallback = default_name if not factory_called else str(getattr(obj, "__name__", default_name))
    return CallableModel(
        obj, name=name or fallback, batch_size=batch_size if batch_size is not None else 8
    )


# -- options ----------------------------------------------------------------------------------


def _parse_options(
    spec: str, query: str, known: Mapping[str, _Option], form: str
) -> dict[str, Any]:
    """``a=1&b=x`` -> typed keyword arguments, each checked against ``known``."""
    values: dict[str, Any] = {}
    if not query:
        return values
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError as e:
        raise ConfigError(
            f"The options of model spec {spec!r} are not KEY=VALUE pairs joined by &; write "
            f"them like ?{next(iter(known.values())).example}."
        ) from e
    for key, raw in pairs:
        if key == "api_key":
            # Do not echo the spec: it holds a secret.
            raise ConfigError(
                "A model spec must not hold an API key (it is recorded with the run); set "
                "OPENAI_API_KEY, or name another variable with api_key_env=NAME."
            )
        option = known.get(key)
        if option is None:
            raise ConfigError(
                f"Unknown option {key!r} in model spec {spec!r} ({form}: takes "
                f"{', '.join(sorted(known))}){did_you_mean(key, known) or '; check its spelling.'}"
            )
        try:
            value = option.kind(raw)
        except ValueError as e:
            raise ConfigError(
                f"Option {key}={raw!r} of model spec {spec!r} is not {option.what}; write it "
                f"like {option.example}."
            ) from e
        if option.repeat:
            values.setdefault(key, []).append(value)
        elif key in values:
            raise ConfigError(f"Option {key!r} is given twice in model spec {spec!r}; keep one.")
        else:
            values[key] = value
    return values
