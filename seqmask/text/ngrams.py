"""The floor every encoder must beat: character n-gram TF-IDF sentence vectors (no training, no model).

Across languages such vectors match what translations share verbatim: digits,
names in Latin script, punctuation, placeholders. N-grams are hashed (crc32, so
the vectors are the same in every process) into ``dims`` buckets.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Sequence

import numpy as np


def char_ngrams(sentence: str, orders: tuple[int, int]) -> Counter[int]:
    """Hashed counts of the character n-grams of ``" " + sentence + " "`` for n in ``orders`` (inclusive)."""
    padded = f" {sentence.lower()} "
    low, high = orders
    return Counter(
        zlib.crc32(padded[i : i + n].encode("utf-8")) for n in range(low, high + 1) for i in range(len(padded) - n + 1)
    )


def tfidf_vectors(
    sides: Sequence[Sequence[str]], *, orders: tuple[int, int] = (2, 4), dims: int = 1 << 14
) -> list[np.ndarray]:
    """One ``(N_i, dims)`` float32 matrix per side; document frequencies over every sentence of every side."""
    counted = [[char_ngrams(sentence, orders) for sentence in side] for side in sides]
    documents = sum(len(side) for side in counted)
    frequency: Counter[int] = Counter()
    for side in counted:
        for counts in side:
            frequency.update(counts.keys())
    vectors = []
    for side in counted:
        matrix = np.zeros((len(side), dims), dtype=np.float32)
        for row, counts in enumerate(side):
            for gram, count in counts.items():
                idf = math.log((1 + documents) / (1 + frequency[gram])) + 1
                matrix[row, gram % dims] += (1 + math.log(count)) * idf
        vectors.append(matrix)
    return vectors
