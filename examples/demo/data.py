"""The demo's data: short generated product reviews labelled positive or negative.

Each review names an aspect of one of four categories and gives an opinion, sometimes negated
("the battery was not good"), sometimes with an intensifier between the negation and the word
("not very good"); some are mixed ("the plot was dull and the acting was superb"). A bag of
words cannot tell "good" from "not good"; word pairs (bigrams) can, except when an intensifier
sits in between. Negation is more frequent in some categories (movies most), so the two models
differ most there. 5% of labels are flipped, as in real annotations.

Everything depends only on ``seed``: the same seed gives the same reviews, ids and labels.
"""

from __future__ import annotations

import numpy as np

CATEGORIES: dict[str, tuple[list[str], float]] = {
    # category: (aspects, share of negated opinions)
    "electronics": (["battery", "screen", "charger", "camera", "keyboard", "speaker"], 0.10),
    "food": (["pasta", "soup", "coffee", "bread", "dessert", "pizza"], 0.05),
    "hotels": (["room", "bed", "staff", "breakfast", "view", "shower"], 0.15),
    "movies": (["plot", "acting", "ending", "soundtrack", "script", "pacing"], 0.35),
}
POSITIVE = ["good", "great", "excellent", "lovely", "fine", "superb", "pleasant", "solid"]
NEGATIVE = ["bad", "awful", "poor", "terrible", "weak", "dull", "broken", "disappointing"]
INTENSIFIERS = ["very", "really", "quite", "at all", "so"]
FILLERS = ["honestly", "overall", "to be fair", "i think", "again", "this time", "as usual"]


def generate(
    n: int, seed: int, *, label_noise: float = 0.05, offset: int = 0
) -> list[dict[str, str | int]]:
    """``n`` reviews as dicts with ``id``, ``text``, ``label`` (1 positive) and ``category``.

    ``offset`` starts the ids elsewhere, so a test set drawn with another seed has its own ids.
    """
    rng = np.random.default_rng(seed)
    names = sorted(CATEGORIES)
    rows: list[dict[str, str | int]] = []
    for i in range(n):
        category = names[int(rng.integers(len(names)))]
        aspects, negation_rate = CATEGORIES[category]
        positive = bool(rng.random() < 0.5)
        negated = bool(rng.random() < negation_rate)
        # The word says the opposite of the opinion when the review negates it.
        word_list = POSITIVE if positive != negated else NEGATIVE
        words = ["the", aspects[int(rng.integers(len(aspects)))], "was"]
        if negated:
            words.append("not")
        if rng.random() < 0.4:
            words.append(INTENSIFIERS[int(rng.integers(len(INTENSIFIERS)))])
        words.append(word_list[int(rng.integers(len(word_list)))])
        if rng.random() < 0.15:
            # A mixed review praises one aspect and criticises another, in either order; the
            # label is the annotator's overall opinion, which no word shows: both models
            # guess, and their guesses differ a little from seed to seed.
            other = NEGATIVE if positive else POSITIVE
            aspect = aspects[int(rng.integers(len(aspects)))]
            clause = ["the", aspect, "was", other[int(rng.integers(len(other)))]]
            words = [*clause, "and", *words] if rng.random() < 0.5 else [*words, "and", *clause]
        if rng.random() < 0.5:
            words.append(FILLERS[int(rng.integers(len(FILLERS)))])
        label = int(positive)
        if rng.random() < label_noise:
            label = 1 - label
        rows.append(
            {
                "id": f"r{offset + i:05d}",
                "text": " ".join(words),
                "label": label,
                "category": category,
            }
        )
    return rows
