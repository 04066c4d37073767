"""Relevance of the datasets a `q` matches: BM25 over the words of each search entry, computed in process.

The database's full-text search decides which entries match (FTS5 on SQLite, a GIN-indexed ``tsvector`` on
PostgreSQL); scoring every match there (FTS5's ``bm25()``, ``ts_rank``) costs a visit to each match's words, tens
of milliseconds for the broadest words. Here each process keeps how often each word occurs in each entry it has
read (`WordIndex`, written once per entry as the other arrays of `search_repository._Entries`: an entry id names
one content forever), so scoring 40,000 matches is a few array operations.

The score is Okapi BM25 (k1 = 1.2, b = 0.75, as FTS5's ``bm25()``) over the entry's folded text, where each phrase
of `q` is a term: a phrase of several words occurs as often as its least frequent word, a prefix (``pressu*``) as
often as all the words it begins together. The average length is over the entries the words matched, and a phrase's
rarity (IDF) comes from the count of the entries it matches: the count of the matches when `q` is one phrase; with
several, each phrase's holders among the entries that exist at the version of the entries the database names
(`search_repository`), or the database's count. Every figure depends only on what the database holds, so every
process ranks alike.
"""

import bisect
import itertools
import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from segell.services.opendata.search import Phrase

Ints = NDArray[np.int64]
Scores = NDArray[np.float64]

K1 = 1.2
B = 0.75
_ENTRY_BITS = 32
_ENTRY_MASK = (1 << _ENTRY_BITS) - 1
#: Occurrences of one word in one entry are counted up to this (BM25 saturates long before).
_MOST_OCCURRENCES = 255
#: New words are put in place in the sorted list of words up to this many at once; more, it is sorted again.
_INSERT_SORTED = 1000


class WordIndex:
    """Postings held by one process: for each word, the entries read that hold it and how often.

    Kept as a few segments, each a sorted array of ``word id << 32 | entry id`` keys with the occurrences beside
    them; each read of entries adds a segment, and a segment is merged into the one before it once it is at least
    half its size, so that there are never more than about log2(postings) of them and each posting is merged
    about as many times."""

    def __init__(self, capacity: int) -> None:
        self.lengths = np.zeros(capacity, dtype=np.int32)
        self.words: dict[str, int] = {}
        self._sorted: list[str] | None = None
        self._segments: list[tuple[Ints, NDArray[np.uint8]]] = []

    def grow(self, capacity: int) -> None:
        if capacity > len(self.lengths):
            self.lengths = np.concatenate([self.lengths, np.zeros(capacity - len(self.lengths), dtype=np.int32)])

    def add(self, entries: Sequence[tuple[int, str]]) -> None:
        """Index the (entry id, folded text) of entries read for the first time."""
        if not entries:
            return
        words = self.words
        known = len(words)
        tokens: list[int] = []
        owners: list[int] = []
        for entry_id, text in entries:
            split = text.split()
            self.lengths[entry_id] = len(split)
            tokens.extend([words.setdefault(word, len(words)) for word in split])
            owners.extend([entry_id] * len(split))
        if self._sorted is not None and len(words) != known:
            new = list(itertools.islice(words, known, None))
            if len(new) > _INSERT_SORTED:
                self._sorted = None
            else:
                for word in new:
                    bisect.insort(self._sorted, word)
        keys = (np.array(tokens, dtype=np.int64) << _ENTRY_BITS) | np.array(owners, dtype=np.int64)
        unique, counts = np.unique(keys, return_counts=True)
        self._segments.append((unique, np.minimum(counts, _MOST_OCCURRENCES).astype(np.uint8)))
        while len(self._segments) > 1 and len(self._segments[-2][0]) <= 2 * len(self._segments[-1][0]):
            (left, left_counts), (right, right_counts) = self._segments[-2:]
            merged = np.concatenate([left, right])
            order = np.argsort(merged, kind="stable")  # two sorted runs: a linear merge
            self._segments[-2:] = [(merged[order], np.concatenate([left_counts, right_counts])[order])]

    def occurrences(self, word_ids: Sequence[int], ids: Ints) -> NDArray[np.int32]:
        """How often the words `word_ids` occur, together, in each entry of `ids` (all read before)."""
        found = np.zeros(len(self.lengths), dtype=np.int32)
        for word_id in word_ids:
            low, high = word_id << _ENTRY_BITS, (word_id + 1) << _ENTRY_BITS
            for keys, counts in self._segments:
                first, last = np.searchsorted(keys, [low, high])
                if first < last:
                    found[keys[first:last] & _ENTRY_MASK] += counts[first:last]
        return found[ids]

    def holding(self, word_ids: Sequence[int]) -> NDArray[np.bool_]:
        """Which entries read hold any of the words `word_ids`, by entry id."""
        held = np.zeros(len(self.lengths), dtype=np.bool_)
        for word_id in word_ids:
            low, high = word_id << _ENTRY_BITS, (word_id + 1) << _ENTRY_BITS
            for keys, _ in self._segments:
                first, last = np.searchsorted(keys, [low, high])
                held[keys[first:last] & _ENTRY_MASK] = True
        return held

    def phrase_word_ids(self, phrase: Phrase, position: int) -> list[int]:
        """The ids of the words read that the `position`-th word of `phrase` stands for (a prefix: all it begins)."""
        word = phrase.words[position]
        if phrase.prefix and position == len(phrase.words) - 1:
            return self.beginning(word)
        return [self.words[word]] if word in self.words else []

    def beginning(self, prefix: str) -> list[int]:
        """The ids of the words read that begin with `prefix`."""
        if self._sorted is None:
            self._sorted = sorted(self.words)
        first = bisect.bisect_left(self._sorted, prefix)
        found: list[int] = []
        for word in self._sorted[first:]:
            if not word.startswith(prefix):
                break
            found.append(self.words[word])
        return found

    def phrase_occurrences(self, phrase: Phrase, ids: Ints) -> NDArray[np.int32]:
        """How often `phrase` occurs in each entry of `ids`, counted as its least frequent word (a prefix: all the
        words it begins, together)."""
        counted: NDArray[np.int32] | None = None
        for position in range(len(phrase.words)):
            occurring = self.occurrences(self.phrase_word_ids(phrase, position), ids)
            counted = occurring if counted is None else np.minimum(counted, occurring)
        assert counted is not None
        return counted


def bm25(
    index: WordIndex,
    phrases: Sequence[Phrase],
    ids: Ints,
    *,
    matched: Ints,
    phrase_matches: Sequence[int],
    entries: int,
) -> Scores:
    """The BM25 score of each entry of `ids` for `phrases`: `matched` are all the entries the phrases match (their
    average length normalises), `phrase_matches` how many entries each phrase matches alone, and `entries` how
    many there are (both for each phrase's IDF)."""
    average = max(float(index.lengths[matched].sum()) / max(len(matched), 1), 1.0)
    norm = K1 * (1 - B + B * index.lengths[ids] / average)
    scores = np.zeros(len(ids), dtype=np.float64)
    for phrase, holders in zip(phrases, phrase_matches, strict=True):
        idf = math.log(1 + (max(entries, holders) - holders + 0.5) / (holders + 0.5))
        occurring = index.phrase_occurrences(phrase, ids).astype(np.float64)
        scores += idf * occurring * (K1 + 1) / (occurring + norm)
    return scores
