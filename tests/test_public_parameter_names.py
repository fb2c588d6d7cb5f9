"""Public signatures name a Store object ``store`` and a URL string ``store_url``."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator
from typing import Any

PACKAGES = (
    "trialbook",
    "trialbook.analysis",
    "trialbook.cartography",
    "trialbook.config",
    "trialbook.evaluation",
    "trialbook.execution",
    "trialbook.reporting",
    "trialbook.store",
    "trialbook.tracking",
)


def _public_callables() -> Iterator[tuple[str, Callable[..., Any]]]:
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{package}.{name}", obj
            elif inspect.isclass(obj) and obj.__module__.startswith("trialbook"):
                for attr, member in vars(obj).items():
                    if inspect.isfunction(member) and (attr == "__init__" or attr[0] != "_"):
                        yield f"{package}.{name}.{attr}", member


def test_a_store_object_is_called_store_and_a_store_url_is_text() -> None:
    wrong = []
    for where, fn in _public_callables():
        for param in inspect.signature(fn).parameters.values():
            annotation = str(param.annotation)
            if param.name != "store" and "Store" in annotation and "StoreStats" not in annotation:
                wrong.append(f"{where}({param.name}: {annotation}) should be store")
            if param.name == "store" and "Store" not in annotation:
                wrong.append(f"{where}(store: {annotation}) is not a Store: store_url")
            if param.name == "store_url" and "str" not in annotation:
                wrong.append(f"{where}(store_url: {annotation}) should be text")
    assert not wrong, "\n".join(wrong)
