"""Generated news-like documents with reference summaries, for the summarisation example.

Each document belongs to one topic (business, politics, science, sports, weather) and reports
three key facts about a few named entities, surrounded by background sentences that name the
same entities (but are not news) and by generic filler. The reference summary restates two or
three of the key facts in other words, as an editor would: it shares the facts' names and
numbers, not their sentences. In about a third of the documents the facts come first
(inverted pyramid); otherwise they sit anywhere, often late, after a scene-setting opening, so
taking the first sentences (lead-k) is a fair baseline and not an oracle.

Everything depends only on ``seed``: the same seed gives the same documents, ids and summaries.
``python examples/summarization/corpus.py`` writes the shipped files in
``examples/summarization/data/`` (``train.jsonl`` and ``test.jsonl``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

TOPICS = ("business", "politics", "science", "sports", "weather")
DATA_DIR = Path(__file__).resolve().parent / "data"
TRAIN_SIZE, TEST_SIZE, DATA_SEED = 200, 100, 0

# fmt: off
_FIRST = [
    "Ana", "Ben", "Carla", "Dev", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Luca", "Maya", "Nils", "Olga", "Pavel", "Rosa", "Sami", "Tara", "Yusuf",
]
_LAST = [
    "Almeida", "Brandt", "Costa", "Dumont", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova",
    "Jensen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Quinn", "Rossi",
    "Sato", "Weber",
]
_CITIES = [
    "Ashford", "Brightwater", "Caldera", "Dunmore", "Eastmoor", "Fairhaven", "Glenrock",
    "Highbridge", "Ironvale", "Kingsport", "Lakemont", "Millbrook", "Northgate", "Oakridge",
    "Porthaven", "Redcliff", "Stonebury", "Westfield",
]
_DAYS = [
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
]
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]
_ORDINALS = [
    "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
]
# fmt: on

# Generic sentences any news story may carry; they name nothing specific.
_GENERIC = [
    "Officials declined to comment further when reached by phone.",
    "More details are expected to be released later this week.",
    "The news spread quickly on social media.",
    "Several residents said they had followed the story closely.",
    "Reporters gathered outside the building from early morning.",
    "A spokesperson promised a full statement in the coming days.",
    "Local radio stations covered the story throughout the day.",
    "Not everyone was convinced that the change would last.",
    "Some observers called the outcome a surprise.",
    "The announcement came after weeks of speculation.",
]


def _person(rng: np.random.Generator) -> str:
    return f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)}"


def _pick(rng: np.random.Generator, items: Sequence[str]) -> str:
    return items[int(rng.integers(len(items)))]


def _int(rng: np.random.Generator, low: int, high: int) -> int:
    return int(rng.integers(low, high + 1))


class _Topic:
    """One topic's entities, key facts (document sentence, summary sentence), background
    sentences naming the entities, openings and filler."""

    def __init__(
        self,
        entities: Callable[[np.random.Generator], dict[str, Any]],
        facts: list[tuple[str, str]],
        background: list[str],
        openings: list[str],
        filler: list[str],
    ) -> None:
        self.entities, self.facts, self.background = entities, facts, background
        self.openings, self.filler = openings, filler


def _business(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "company": f"{_pick(rng, _CITIES)} {_pick(rng, ['Foods', 'Motors', 'Textiles', 'Energy', 'Pharma', 'Logistics'])}",  # noqa: E501
        "person": _person(rng),
        "profit": _int(rng, 12, 950),
        "growth": _int(rng, 2, 40),
        "stores": _int(rng, 3, 60),
        "city": _pick(rng, _CITIES),
        "month": _pick(rng, _MONTHS),
        "year": _int(rng, 1890, 1995),
    }


def _politics(rng: np.random.Generator) -> dict[str, Any]:
    ayes = _int(rng, 160, 320)
    return {
        "bill": _pick(
            rng,
            [
                "housing",
                "pension",
                "transport",
                "water",
                "school meals",
                "broadband",
                "fishing",
                "rent",
            ],
        ),
        "ayes": ayes,
        "noes": _int(rng, 80, ayes - 10),
        "day": _pick(rng, _DAYS),
        "person": _person(rng),
        "month": _pick(rng, _MONTHS),
        "party": _pick(rng, ["Green", "Liberal", "Unity", "Reform", "Progress", "Heritage"]),
        "year": _int(rng, 1990, 2020),
    }


def _science(rng: np.random.Generator) -> dict[str, Any]:
    thing, effect = [
        ("daily walking", "lowers blood pressure"),
        ("a new coating", "cuts corrosion"),
        ("seaweed feed", "reduces methane from cattle"),
        ("afternoon naps", "improve memory"),
        ("a cheap catalyst", "speeds up hydrogen production"),
        ("bright classroom lighting", "raises test scores"),
    ][_int(rng, 0, 5)]
    return {
        "institute": f"University of {_pick(rng, _CITIES)}",
        "thing": thing,
        "effect": effect,
        "percent": _int(rng, 5, 45),
        "person": _person(rng),
        "volunteers": _int(rng, 40, 3000),
        "years": _int(rng, 2, 12),
        "journal": _pick(rng, ["Nature Letters", "Open Science", "The Review", "Field Notes"]),
        "day": _pick(rng, _DAYS),
        "year": _int(rng, 1995, 2022),
    }


def _sports(rng: np.random.Generator) -> dict[str, Any]:
    nick = ["Rovers", "United", "Wanderers", "Rangers", "Athletic", "Harriers", "Falcons"]
    home, away = rng.choice(len(_CITIES), size=2, replace=False)
    goals = _int(rng, 2, 5)
    return {
        "team": f"{_CITIES[int(home)]} {_pick(rng, nick)}",
        "rival": f"{_CITIES[int(away)]} {_pick(rng, nick)}",
        "won": goals,
        "lost": _int(rng, 0, goals - 1),
        "day": _pick(rng, _DAYS),
        "player": _person(rng),
        "scored": _int(rng, 2, goals),
        "rank": _pick(rng, ["first", "second", "third", "fourth", "fifth"]),
        "month": _pick(rng, _MONTHS),
        "seasons": _int(rng, 2, 9),
    }


def _weather(rng: np.random.Generator) -> dict[str, Any]:
    return {
        "storm": _pick(
            rng,
            [
                "Agnes",
                "Bruno",
                "Cora",
                "Dmitri",
                "Edda",
                "Felix",
                "Gwen",
                "Hector",
                "Isla",
                "Jasper",
            ],
        ),
        "region": f"{_pick(rng, ['North', 'South', 'East', 'West'])} {_pick(rng, _CITIES)}",
        "rain": _int(rng, 40, 220),
        "day": _pick(rng, _DAYS),
        "homes": _int(rng, 3, 90),
        "wind": _int(rng, 70, 160),
        "until": _pick(rng, _DAYS),
        "year": _int(rng, 1950, 2015),
        "ordinal": _pick(rng, _ORDINALS),
    }


_TOPICS: dict[str, _Topic] = {
    "business": _Topic(
        _business,
        facts=[
            (
                "{company} reported a quarterly profit of {profit} million dollars, up {growth} "
                "percent from a year earlier.",
                "{company} made {profit} million dollars in profit last quarter, {growth} percent "
                "more than a year ago.",
            ),
            (
                "The company plans to open {stores} new stores in {city} next year.",
                "{company} will open {stores} stores in {city}.",
            ),
            (
                "Chief executive {person} announced plans to step down in {month}.",
                "{person} leaves as chief executive in {month}.",
            ),
        ],
        background=[
            "{company} was founded in {year} as a small family business.",
            "Shares of {company} have traded in a narrow range for months.",
            "{person} joined {company} as a junior accountant.",
        ],
        openings=[
            "Trading was quiet in {city} on the morning of the results.",
            "The market opened calmly in {city}.",
        ],
        filler=[
            "Analysts had expected a weaker quarter.",
            "Retail sales across the sector slowed in the spring.",
            "Competitors have cut prices to win back customers.",
            "The currency moved little during the session.",
            "Investors remain cautious about the wider economy.",
            "Energy costs weighed on margins across the industry.",
            "Several rivals are expected to report next week.",
            "Consumer confidence edged higher last month.",
            "Supply chains have largely recovered from last year.",
            "The sector employs thousands of people across the region.",
            "Online orders now make up a growing share of sales.",
            "Interest rates are expected to stay on hold.",
        ],
    ),
    "politics": _Topic(
        _politics,
        facts=[
            (
                "Parliament passed the {bill} bill by {ayes} votes to {noes} on {day}.",
                "The {bill} bill passed {ayes} to {noes}.",
            ),
            (
                "Minister {person} said the new law will take effect in {month}.",
                "It takes effect in {month}, said minister {person}.",
            ),
            (
                "The {party} party had opposed the bill, calling it too costly.",
                "The {party} party opposed it as too costly.",
            ),
        ],
        background=[
            "{person} was first elected in {year}.",
            "The debate on the {bill} bill lasted more than nine hours.",
            "The {party} party holds its annual conference in {month}.",
        ],
        openings=[
            "The chamber was unusually full on {day}.",
            "Protesters had gathered outside parliament since dawn.",
        ],
        filler=[
            "Members argued late into the evening.",
            "Several amendments were rejected during the session.",
            "Opinion polls suggest voters are divided on the issue.",
            "The opposition benches were crowded for the final vote.",
            "Committee hearings on the proposal began last spring.",
            "Campaign groups had lobbied members for months.",
            "The speaker called for order several times.",
            "Some members abstained rather than vote against their party.",
            "The government has a narrow majority.",
            "Regional councils will be consulted on the details.",
            "Newspapers had predicted a closer result.",
            "The session ended shortly before midnight.",
        ],
    ),
    "science": _Topic(
        _science,
        facts=[
            (
                "Researchers at the {institute} found that {thing} {effect} by {percent} percent.",
                "A {institute} team showed that {thing} {effect} by {percent} percent.",
            ),
            (
                "The study, led by {person}, followed {volunteers} volunteers for {years} years.",
                "{person} led the study of {volunteers} volunteers over {years} years.",
            ),
            (
                "The results were published on {day} in the journal {journal}.",
                "The findings appear in {journal}.",
            ),
        ],
        background=[
            "{person} has worked at the {institute} since {year}.",
            "The {institute} received new funding for its laboratories last year.",
            "Earlier work on {thing} had given mixed results.",
        ],
        openings=[
            "The laboratory is on the top floor of an old brick building.",
            "The idea began with a conversation over coffee.",
        ],
        filler=[
            "Other scientists welcomed the work but urged caution.",
            "Larger trials will be needed to confirm the effect.",
            "The team plans to share its data with other groups.",
            "Funding for the project came from a public grant.",
            "Similar studies are under way in several countries.",
            "The method is cheap and easy to repeat.",
            "Independent experts reviewed the analysis before publication.",
            "The researchers were surprised by the size of the effect.",
            "Questions remain about how long the effect lasts.",
            "The findings could change current guidelines.",
            "Volunteers were paid a small fee for taking part.",
            "Measurements were taken every few weeks.",
        ],
    ),
    "sports": _Topic(
        _sports,
        facts=[
            (
                "The {team} beat the {rival} {won} to {lost} on {day} night.",
                "The {team} defeated the {rival} {won}-{lost}.",
            ),
            (
                "{player} scored {scored} goals for the {team}, including the winner.",
                "{player} scored {scored} times, including the winner.",
            ),
            (
                "The win lifts the {team} to {rank} place in the league table.",
                "They are now {rank} in the league.",
            ),
        ],
        background=[
            "{player} joined the {team} from the {rival} {seasons} seasons ago.",
            "The {team} and the {rival} last met in {month}, when the game ended in a draw.",
            "The {rival} have not won away from home since {month}.",
        ],
        openings=[
            "It was a cold evening at the stadium.",
            "The floodlights came on early as rain swept the ground.",
        ],
        filler=[
            "Fans queued outside the stadium for hours before kickoff.",
            "Both coaches made changes to their starting line-ups.",
            "Ticket prices have risen sharply this season.",
            "The referee showed four yellow cards in the first half.",
            "Supporters sang throughout the second half.",
            "Local bars were packed long after the final whistle.",
            "The pitch had been relaid during the summer break.",
            "A minute of applause was held before the match.",
            "The visitors had the better of the opening exchanges.",
            "Several players are doubtful for the next fixture.",
            "The crowd was the largest of the season.",
            "Television viewing figures were higher than usual.",
        ],
    ),
    "weather": _Topic(
        _weather,
        facts=[
            (
                "Storm {storm} brought {rain} millimetres of rain to {region} on {day}.",
                "Storm {storm} dropped {rain} mm of rain on {region}.",
            ),
            (
                "Power was cut to {homes} thousand homes as winds reached {wind} kilometres per "
                "hour.",
                "About {homes} thousand homes lost power in winds of {wind} km per hour.",
            ),
            (
                "Schools across {region} will stay closed until {until}.",
                "Schools in {region} stay shut until {until}.",
            ),
        ],
        background=[
            "{region} last saw a storm of this size in {year}.",
            "Storm {storm} is the {ordinal} named storm of the season.",
            "Forecasters had warned {region} about the storm since the weekend.",
        ],
        openings=[
            "Grey clouds gathered over the hills in the early afternoon.",
            "The first gusts arrived shortly after lunch.",
        ],
        filler=[
            "Emergency crews worked through the night.",
            "Several roads were blocked by fallen trees.",
            "Train services were suspended on some lines.",
            "Residents were urged to stay indoors.",
            "Insurance companies expect a large number of claims.",
            "Rivers rose quickly in low-lying areas.",
            "Flights were delayed at the regional airport.",
            "Volunteers handed out sandbags in the town centre.",
            "Temperatures are expected to fall later in the week.",
            "Farmers reported damage to crops and fences.",
            "The coast guard issued a warning to small boats.",
            "Clean-up work could take several weeks.",
        ],
    ),
}


def _document(rng: np.random.Generator, topic: str) -> tuple[list[str], list[str]]:
    """The sentences of one document and of its reference summary."""
    spec = _TOPICS[topic]
    values = spec.entities(rng)
    length = _int(rng, 8, 20)
    facts = [doc.format(**values) for doc, _ in spec.facts]
    # Two or three facts make the summary; the first fact (the news itself) always does.
    kept = [0, 1, 2] if rng.random() < 0.5 else [0, int(rng.choice([1, 2]))]
    summary = [spec.facts[i][1].format(**values) for i in kept]
    n_background = _int(rng, 1, 2)
    background = [
        spec.background[int(i)].format(**values)
        for i in rng.choice(len(spec.background), n_background, replace=False)
    ]
    pool = spec.filler + _GENERIC
    n_filler = length - len(facts) - n_background
    filler = [pool[int(i)] for i in rng.choice(len(pool), n_filler, replace=False)]

    if rng.random() < 0.35:
        # Inverted pyramid: the facts first, in order; the rest follows in any order.
        rest = background + filler
        order = rng.permutation(len(rest))
        return facts + [rest[int(i)] for i in order], summary
    # Elsewhere: an opening scene, then the facts (kept in order) at random places.
    opening = _pick(rng, spec.openings).format(**values)
    rest = background + filler[1:]
    positions = sorted(int(p) for p in rng.choice(np.arange(1, length), 3, replace=False))
    others = iter(rest[int(i)] for i in rng.permutation(len(rest)))
    fact_at = dict(zip(positions, facts, strict=True))
    sentences = [opening] + [fact_at.get(p) or next(others) for p in range(1, length)]
    return sentences, summary


def generate(n: int, seed: int, *, offset: int = 0) -> list[dict[str, Any]]:
    """``n`` documents as dicts with ``id``, ``topic``, ``sentences`` and ``summary``.

    ``offset`` starts the ids elsewhere, so a test set drawn with another seed has its own ids.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        topic = TOPICS[int(rng.integers(len(TOPICS)))]
        sentences, summary = _document(rng, topic)
        rows.append(
            {
                "id": f"doc{offset + i:05d}",
                "topic": topic,
                "sentences": sentences,
                "summary": " ".join(summary),
            }
        )
    return rows


def splits(seed: int = DATA_SEED) -> dict[str, list[dict[str, Any]]]:
    """The shipped splits: ``train`` (for fitting IDF) and ``test`` (to summarise)."""
    return {
        "train": generate(TRAIN_SIZE, seed),
        "test": generate(TEST_SIZE, seed + 1, offset=TRAIN_SIZE),
    }


def to_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the summarisation example's data.")
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="folder for the JSONL files")
    parser.add_argument("--seed", type=int, default=DATA_SEED, help="the data's seed")
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    for split, rows in splits(options.seed).items():
        path = options.out / f"{split}.jsonl"
        path.write_text(to_jsonl(rows), encoding="utf-8")
        print(f"wrote {len(rows)} documents to {path}")


if __name__ == "__main__":
    main()
