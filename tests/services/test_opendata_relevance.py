"""`relevance`: the words each process holds of the search entries, and BM25 over them, against a plain count."""

import math
import random
from collections import Counter

import numpy as np

from segell.services.opendata.relevance import WordIndex, bm25
from segell.services.opendata.search import Phrase

WORDS = ["aigua", "aire", "pressupost", "pressio", "padro", "de", "girona", "l", "qualitat", "soroll"]


def texts(count: int, seed: int = 7) -> dict[int, str]:
    rng = random.Random(seed)
    return {entry_id: " ".join(rng.choices(WORDS, k=rng.randint(1, 30))) for entry_id in range(1, count + 1)}


def test_occurrences_match_a_plain_count_whatever_the_batches() -> None:
    held = texts(400)
    index = WordIndex(8)
    batch: list[tuple[int, str]] = []
    for entry_id, text in held.items():  # batches of 1 to 40 entries, as searches read them
        index.grow(entry_id + 1)
        batch.append((entry_id, text))
        if len(batch) >= 1 + entry_id % 40:
            index.add(batch)
            batch = []
    index.add(batch)
    ids = np.array(sorted(held), dtype=np.int64)
    for word in WORDS:
        expected = [Counter(held[entry_id].split())[word] for entry_id in ids.tolist()]
        assert index.occurrences([index.words[word]], ids).tolist() == expected, word
    assert index.lengths[ids].tolist() == [len(held[entry_id].split()) for entry_id in ids.tolist()]
    assert sorted(index.beginning("press")) == sorted([index.words["pressupost"], index.words["pressio"]])
    index.grow(402)
    index.add([(401, "pressuposts")])
    assert len(index.beginning("press")) == 3 and index.beginning("zz") == []


def test_holders_of_a_word_or_a_prefix_match_a_plain_count_whatever_the_batches() -> None:
    held = texts(300, seed=11)
    index = WordIndex(301)
    for first in range(1, 301, 37):
        index.add([(entry_id, held[entry_id]) for entry_id in range(first, min(first + 37, 301))])
    for word in WORDS:
        holding = index.holding(index.phrase_word_ids(Phrase((word,)), 0))
        assert np.flatnonzero(holding).tolist() == [entry_id for entry_id in held if word in held[entry_id].split()]
    holding = index.holding(index.phrase_word_ids(Phrase(("press",), prefix=True), 0))
    expected = [entry_id for entry_id, text in held.items() if any(w.startswith("press") for w in text.split())]
    assert np.flatnonzero(holding).tolist() == expected
    assert not index.holding(index.phrase_word_ids(Phrase(("desconegut",)), 0)).any()


def test_phrase_occurs_as_its_least_frequent_word_and_a_prefix_as_all_its_words() -> None:
    index = WordIndex(4)
    index.add([(1, "qualitat de l aire l aire l"), (2, "aire pressupost pressio pressio"), (3, "soroll")])
    ids = np.array([1, 2, 3], dtype=np.int64)
    assert index.phrase_occurrences(Phrase(("l", "aire")), ids).tolist() == [2, 0, 0]
    assert index.phrase_occurrences(Phrase(("press",), prefix=True), ids).tolist() == [0, 3, 0]
    assert index.phrase_occurrences(Phrase(("desconegut",)), ids).tolist() == [0, 0, 0]


def test_bm25_ranks_more_occurrences_shorter_entries_and_rarer_words_higher() -> None:
    held = {1: "riu riu riu pont", 2: "riu pont", 3: "riu pont pont pont pont pont pont pont", 4: "pont", 5: "pont"}
    index = WordIndex(8)
    index.add(list(held.items()))
    river = np.array([1, 2, 3], dtype=np.int64)
    scores = bm25(index, [Phrase(("riu",))], river, matched=river, phrase_matches=[3], entries=5)
    assert scores[0] > scores[1] > scores[2] > 0  # three times; once in 2 words; once in 8 words
    average = (4 + 2 + 8) / 3
    expected = [
        math.log(1 + 2.5 / 3.5) * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average))
        for tf, length in ((3, 4), (1, 2), (1, 8))
    ]
    assert np.allclose(scores, expected)
    # Both words: "riu" (3 of 5 entries) weighs more than "pont" (5 of 5).
    both = bm25(index, [Phrase(("riu",)), Phrase(("pont",))], river, matched=river, phrase_matches=[3, 5], entries=5)
    assert both[0] > both[2]  # riu three times beats pont seven times
