"""Extractive summarisers and the example's entrypoint ``train(config, run)``.

Two methods pick ``k`` sentences of a document and return them in document order:

* ``lead``: the first ``k`` sentences (the classic news baseline, lead-3);
* ``centroid``: TF-IDF centroid scoring (Radev et al., 2004): each sentence is a TF-IDF vector
  over content words, the document's centroid is their sum, and the ``k`` sentences most
  similar (cosine) to the centroid are kept. The IDF table is fitted on ``idf_documents``
  training documents; it is the method's "checkpoint".

The run's seed draws the ``eval_size`` test documents to summarise (and, for ``centroid``, the
documents the IDF is fitted on), so seeds give different but comparable samples; two runs with
the same seed summarise the same documents, which pairs their per-document ROUGE scores.

``trialbook run examples/summarization/configs/`` calls :func:`train`; the script
``train_baseline.py`` calls :func:`summarize_and_score` inside its own ``trialbook.start_run``.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

if TYPE_CHECKING:
    from trialbook import Run

BENCHMARK = "news_summaries"
_TOKEN = re.compile(r"[a-z0-9]+")
# Words that carry no content: leaving them out keeps the centroid on names, numbers and facts.
# fmt: off
_STOPWORDS = frozenset([
    "a", "about", "after", "all", "an", "and", "are", "as", "at", "be", "been", "before", "by",
    "for", "from", "had", "has", "have", "in", "into", "is", "it", "its", "last", "more", "most",
    "not", "of", "on", "or", "over", "since", "some", "than", "that", "the", "their", "there",
    "they", "this", "to", "up", "was", "were", "when", "which", "will", "with",
])
# fmt: on


class DataConfig(BaseModel):
    """Where the documents are and how many to use."""

    model_config = ConfigDict(extra="forbid")

    train_path: str
    test_path: str
    eval_size: int = Field(gt=0)

    @field_validator("train_path", "test_path")
    @classmethod
    def _exists(cls, value: str) -> str:
        if not Path(value).is_file():
            raise ValueError(
                f"there is no such file in {Path.cwd()}; run from the repository root or fix "
                "the path (`python examples/summarization/corpus.py` writes the data)"
            )
        # Read here, so a file of another kind is refused before any run starts.
        with open(value, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    row = None
                if not (
                    isinstance(row, dict)
                    and isinstance(row.get("sentences"), list)
                    and all(isinstance(x, str) for x in row["sentences"])
                    and all(isinstance(row.get(key), str) for key in ("id", "summary", "topic"))
                ):
                    raise ValueError(
                        f"line {number} is not a JSON object with id, topic, sentences (a list "
                        "of strings) and summary; give a file that "
                        "`python examples/summarization/corpus.py` writes"
                    )
        return value

    @field_validator("eval_size")
    @classmethod
    def _enough_documents(cls, value: int, info: ValidationInfo) -> int:
        test_path = info.data.get("test_path")  # absent when that path was refused
        if test_path is None:
            return value
        with open(test_path, encoding="utf-8") as f:
            available = sum(1 for line in f if line.strip())
        if value > available:
            raise ValueError(f"{test_path} has only {available} documents; use at most {available}")
        return value


class SummarizerConfig(BaseModel):
    """The method and its settings."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["lead", "centroid"]
    k: int = Field(gt=0)
    idf_documents: int = Field(default=150, gt=0)


class SummarizationConfig(BaseModel):
    """The example's config (besides trialbook's ``experiment:`` and ``seed``)."""

    model_config = ConfigDict(extra="forbid")

    data: DataConfig
    summarizer: SummarizerConfig


def tokens(text: str) -> list[str]:
    """Lowercased runs of letters and digits (as rouge-score tokenizes), without stopwords."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS]


def lead(sentences: Sequence[str], k: int) -> list[int]:
    """The indices of the first ``k`` sentences."""
    return list(range(min(k, len(sentences))))


class CentroidSummarizer:
    """TF-IDF centroid sentence scoring; :meth:`fit` learns the IDF table."""

    def __init__(self, idf: Mapping[str, float] | None = None, n_documents: int = 0) -> None:
        self.idf: dict[str, float] = dict(idf or {})
        self.n_documents = n_documents

    def fit(self, documents: Iterable[Sequence[str]]) -> CentroidSummarizer:
        """Fit the IDF on documents given as lists of sentences (smoothed, as scikit-learn)."""
        df: Counter[str] = Counter()
        n = 0
        for sentences in documents:
            n += 1
            df.update({t for s in sentences for t in tokens(s)})
        self.n_documents = n
        self.idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in sorted(df.items())}
        return self

    @property
    def unseen_idf(self) -> float:
        """The IDF of a word no training document had: the highest possible."""
        return math.log(1 + self.n_documents) + 1.0

    def scores(self, sentences: Sequence[str]) -> np.ndarray:
        """The cosine similarity of each sentence's TF-IDF vector to the document centroid."""
        counts = [Counter(tokens(s)) for s in sentences]
        vocab = sorted({t for c in counts for t in c})
        column = {t: i for i, t in enumerate(vocab)}
        matrix = np.zeros((len(sentences), len(vocab)))
        for row, count in enumerate(counts):
            for term, tf in count.items():
                matrix[row, column[term]] = tf * self.idf.get(term, self.unseen_idf)
        centroid = matrix.sum(axis=0)
        norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(centroid)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(norms > 0, matrix @ centroid / norms, 0.0)

    def select(self, sentences: Sequence[str], k: int) -> list[int]:
        """The indices of the ``k`` best sentences, in document order (ties: earlier first)."""
        ranked = np.argsort(-self.scores(sentences), kind="stable")
        return sorted(int(i) for i in ranked[:k])

    def to_dict(self) -> dict[str, Any]:
        return {"n_documents": self.n_documents, "idf": self.idf}

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> CentroidSummarizer:
        """The summariser a run saved as ``checkpoint/summarizer.json``, ready to summarise."""
        saved = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(saved["idf"], saved["n_documents"])


def load_documents(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def summarize_and_score(config: SummarizationConfig, run: Run) -> dict[str, float]:
    """Summarise the run's documents, log the evaluation, the data and the fitted summariser
    (as a checkpoint); return the mean ROUGE-1/2/L F-measures."""
    from trialbook.evaluation.metrics import rouge_score

    data, method = config.data, config.summarizer
    rng = np.random.default_rng(run.seed or 0)
    test = load_documents(data.test_path)
    chosen = sorted(int(i) for i in rng.choice(len(test), data.eval_size, replace=False))
    documents = [test[i] for i in chosen]
    run.log_dataset(data.test_path, "summaries_test")

    settings: dict[str, Any] = {"method": method.method, "k": method.k}
    if method.method == "centroid":
        train = load_documents(data.train_path)
        size = min(method.idf_documents, len(train))
        fit_on = [train[int(i)]["sentences"] for i in rng.choice(len(train), size, replace=False)]
        summarizer = CentroidSummarizer().fit(fit_on)
        run.log_dataset(data.train_path, "summaries_train")
        settings.update(summarizer.to_dict())

        def pick(sentences: Sequence[str]) -> list[int]:
            return summarizer.select(sentences, method.k)
    else:

        def pick(sentences: Sequence[str]) -> list[int]:
            return lead(sentences, method.k)

    samples = []
    for doc in documents:
        sentences = doc["sentences"]
        picked = pick(sentences)
        prediction = " ".join(sentences[i] for i in picked)
        rouge = rouge_score(prediction, doc["summary"])
        samples.append(
            {
                "id": doc["id"],
                "prediction": prediction,
                "reference": doc["summary"],
                "score": rouge["rougeL"],  # what paired significance tests compare
                "rouge1": rouge["rouge1"],
                "rouge2": rouge["rouge2"],
                "topic": doc["topic"],
                "picked": picked,
            }
        )
    metrics = {
        "rouge1": float(np.mean([s["rouge1"] for s in samples])),
        "rouge2": float(np.mean([s["rouge2"] for s in samples])),
        "rougeL": float(np.mean([s["score"] for s in samples])),
    }
    run.log_evaluation(BENCHMARK, {"metrics": metrics, "samples": samples, "split": "test"})

    checkpoint = run.checkpoint_dir / "summarizer.json"
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    checkpoint.write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    run.log_checkpoint(checkpoint, metrics=metrics)
    return metrics


def train(config: SummarizationConfig, run: Run) -> dict[str, float]:
    """The entrypoint of ``trialbook run``: the returned metrics land in summary.json."""
    return summarize_and_score(config, run)
