"""Model adapters: a local Hugging Face causal LM, an OpenAI-compatible endpoint, and
``load_model`` for the CLI's ``--model SPEC``.

Imported lazily: ``import trialbook.evaluation.models`` loads neither httpx nor transformers
until a name that needs them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trialbook._lazy import lazy_attributes

# name -> module that defines it; resolved on first attribute access.
_LAZY = {
    "HFCausalLM": "trialbook.evaluation.models._hf",
    "OpenAICompatible": "trialbook.evaluation.models._openai",
    "SPEC_FORMS": "trialbook.evaluation.models._spec",
    "load_model": "trialbook.evaluation.models._spec",
}

__all__ = ["SPEC_FORMS", "HFCausalLM", "OpenAICompatible", "load_model"]

if TYPE_CHECKING:
    from trialbook.evaluation.models._hf import HFCausalLM
    from trialbook.evaluation.models._openai import OpenAICompatible
    from trialbook.evaluation.models._spec import SPEC_FORMS, load_model


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals(), __all__)
