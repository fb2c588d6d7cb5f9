"""Metrics for generated text: BLEU and chrF (sacrebleu), ROUGE (rouge-score), BERTScore.

The libraries are optional extras, imported on first use: ``import trialbook`` loads none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trialbook.errors import ConfigError
from trialbook.evaluation.metrics._common import as_references, check_pair, mean, optional_import

__all__ = [
    "bertscore",
    "bleu",
    "bleu_score",
    "chrf",
    "chrf_score",
    "rouge",
    "rouge_score",
]

Reference = str | Sequence[str]
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def _sacrebleu_metrics(metric: str) -> Any:
    return optional_import("sacrebleu.metrics", extra="metrics", metric=metric)


def _reference_streams(metric: str, references: Sequence[Reference]) -> list[list[str | None]]:
    # sacrebleu wants one stream per reference position, each as long as the predictions;
    # None marks "this sample has fewer references", which sacrebleu skips.
    per_sample = [as_references(metric, r) for r in references]
    width = max(len(refs) for refs in per_sample)
    return [[refs[k] if k < len(refs) else None for refs in per_sample] for k in range(width)]


def _bleu_metric(tokenize: str | None, lowercase: bool, *, effective_order: bool) -> Any:
    metrics = _sacrebleu_metrics("bleu")
    try:
        return metrics.BLEU(tokenize=tokenize, lowercase=lowercase, effective_order=effective_order)
    except KeyError as e:
        known = ", ".join(sorted(metrics.BLEU.TOKENIZERS))
        raise ConfigError(
            f"bleu has no tokenizer {tokenize!r}; use one of sacrebleu's: {known} (or None "
            "for its default, 13a)."
        ) from e


def bleu(
    predictions: Sequence[str],
    references: Sequence[Reference],
    *,
    tokenize: str | None = None,
    lowercase: bool = False,
) -> float:
    """Corpus BLEU (sacrebleu's ``corpus_bleu``), on sacrebleu's 0-100 scale.

    Each sample has one reference or a list of several (the numbers may differ between
    samples). ``tokenize`` picks a sacrebleu tokenizer (default ``13a``; ``zh`` for Chinese,
    ``char``, ``intl``, ``none``...; ``spm``/``flores*`` would download a model and fail
    offline). Corpus BLEU is not the mean of sentence BLEU: n-gram counts are pooled.
    """
    check_pair("bleu", predictions, references)
    metric = _bleu_metric(tokenize, lowercase, effective_order=False)
    return float(
        metric.corpus_score(list(predictions), _reference_streams("bleu", references)).score
    )


def bleu_score(
    prediction: str,
    references: Reference,
    *,
    tokenize: str | None = None,
    lowercase: bool = False,
) -> float:
    """Sentence BLEU (sacrebleu's ``sentence_bleu``: exp smoothing, effective order), 0-100."""
    metric = _bleu_metric(tokenize, lowercase, effective_order=True)
    return float(metric.sentence_score(prediction, as_references("bleu_score", references)).score)


def _chrf_metric(char_order: int, word_order: int, beta: int, lowercase: bool) -> Any:
    metrics = _sacrebleu_metrics("chrf")
    if char_order < 1 or word_order < 0 or beta < 0:
        raise ConfigError(
            f"chrf needs char_order >= 1, word_order >= 0 and beta >= 0, got {char_order}, "
            f"{word_order} and {beta}."
        )
    return metrics.CHRF(
        char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase
    )


def chrf(
    predictions: Sequence[str],
    references: Sequence[Reference],
    *,
    char_order: int = 6,
    word_order: int = 0,
    beta: int = 2,
    lowercase: bool = False,
) -> float:
    """Corpus chrF (sacrebleu's ``corpus_chrf``), 0-100; ``word_order=2`` gives chrF++."""
    check_pair("chrf", predictions, references)
    metric = _chrf_metric(char_order, word_order, beta, lowercase)
    return float(
        metric.corpus_score(list(predictions), _reference_streams("chrf", references)).score
    )


def chrf_score(
    prediction: str,
    references: Reference,
    *,
    char_order: int = 6,
    word_order: int = 0,
    beta: int = 2,
    lowercase: bool = False,
) -> float:
    """Sentence chrF (sacrebleu's ``sentence_chrf``), 0-100."""
    metric = _chrf_metric(char_order, word_order, beta, lowercase)
    return float(metric.sentence_score(prediction, as_references("chrf_score", references)).score)


class _CallableTokenizer:
    """rouge-score wants an object with ``tokenize(text)``; users pass a plain function."""

    def __init__(self, fn: Callable[[str], Sequence[str]]) -> None:
        self.fn = fn

    def tokenize(self, text: str) -> list[str]:
        return list(self.fn(text))


def _rouge_scorer(use_stemmer: bool, tokenize: Callable[[str], Sequence[str]] | None) -> Any:
    module = optional_import("rouge_score.rouge_scorer", extra="metrics", metric="rouge")
    tokenizer = None if tokenize is None else _CallableTokenizer(tokenize)
    return module.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer, tokenizer=tokenizer)


def _rouge_one(scorer: Any, prediction: str, references: list[str]) -> dict[str, float]:
    # score_multi keeps, per ROUGE type, the reference with the best F-measure.
    scores = scorer.score_multi(references, prediction)
    return {name: float(scores[name].fmeasure) for name in ROUGE_TYPES}


def rouge_score(
    prediction: str,
    references: Reference,
    *,
    use_stemmer: bool = False,
    tokenize: Callable[[str], Sequence[str]] | None = None,
) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F-measures of one prediction, in [0, 1].

    Returns ``{"rouge1": ..., "rouge2": ..., "rougeL": ...}``; with several references each
    type takes its best reference. rouge-score's default tokenizer lowercases and keeps only
    ``[a-z0-9]`` runs, so text in other scripts scores 0: pass ``tokenize`` (a function from
    text to tokens, e.g. ``str.split`` or ``list`` for characters) for such text.
    """
    scorer = _rouge_scorer(use_stemmer, tokenize)
    return _rouge_one(scorer, prediction, as_references("rouge_score", references))


def rouge(
    predictions: Sequence[str],
    references: Sequence[Reference],
    *,
    use_stemmer: bool = False,
    tokenize: Callable[[str], Sequence[str]] | None = None,
) -> dict[str, float]:
    """The mean over samples of :func:`rouge_score`: ``{"rouge1", "rouge2", "rougeL"}``."""
    check_pair("rouge", predictions, references)
    scorer = _rouge_scorer(use_stemmer, tokenize)
    per_sample = [
        _rouge_one(scorer, p, as_references("rouge", r))
        for p, r in zip(predictions, references, strict=True)
    ]
    return {name: mean(s[name] for s in per_sample) for name in ROUGE_TYPES}


_BERTSCORE_HINT = (
    "BERTScore needs `pip install 'trialbook[bertscore]'` and a local model: pass "
    "model_path=... (a folder holding a Hugging Face model; nothing is downloaded)."
)


def _layers(bert_score: Any, model: Path) -> int:
    # bert-score knows the best layer of the common models by name; a local folder named
    # like one ("roberta-large") gets that layer, any other model its last layer.
    known = getattr(getattr(bert_score, "utils", None), "model2layers", {})
    if model.name in known:
        return int(known[model.name])
    try:
        config = json.loads((model / "config.json").read_text(encoding="utf-8"))
        return int(config["num_hidden_layers"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(
            f"Cannot tell how many layers the model in {str(model)!r} has (no readable "
            "config.json with num_hidden_layers); pass num_layers=... to bertscore."
        ) from e


def bertscore(
    predictions: Sequence[str],
    references: Sequence[Reference],
    *,
    model_path: str | Path | None = None,
    num_layers: int | None = None,
    batch_size: int = 64,
    device: str | None = None,
    idf: bool = False,
) -> dict[str, float]:
    """Mean BERTScore precision, recall and F1 with a local model (bert-score, optional).

    Returns ``{"bertscore_precision", "bertscore_recall", "bertscore_f1"}``. ``model_path``
    is a local folder with a Hugging Face encoder (e.g. a saved ``roberta-large``); the layer
    used is ``num_layers``, else bert-score's recommended layer for a folder named like a
    model it knows, else the model's last layer. Without bert-score or without a local model
    it raises ConfigError saying what to install and pass; it never downloads anything.
    """
    if model_path is None:
        raise ConfigError(_BERTSCORE_HINT)
    model = Path(model_path).expanduser()
    if not model.is_dir():
        raise ConfigError(
            f"BERTScore model_path {str(model_path)!r} is not a folder; pass the folder of a "
            "locally saved Hugging Face model."
        )
    check_pair("bertscore", predictions, references)
    try:
        bert_score = optional_import("bert_score", extra="bertscore", metric="bertscore")
    except ConfigError as e:
        raise ConfigError(_BERTSCORE_HINT) from e
    layers = num_layers if num_layers is not None else _layers(bert_score, model)
    refs = [as_references("bertscore", r) for r in references]
    precision, recall, f1 = bert_score.score(
        list(predictions),
        refs,
        model_type=str(model),
        num_layers=layers,
        batch_size=batch_size,
        device=device,
        idf=idf,
        verbose=False,
    )
    return {
        "bertscore_precision": float(precision.mean()),
        "bertscore_recall": float(recall.mean()),
        "bertscore_f1": float(f1.mean()),
    }
