"""Detection meets its goal on the labelled look-alike corpus of bench/corpus.py (small, fast)."""

from __future__ import annotations

import pytest

from bench.corpus import generate_corpus, score
from bench.detection import dcp_predictions

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [0, 1])
def test_column_level_recall_and_precision_on_the_look_alike_corpus(seed: int) -> None:
    corpus = generate_corpus(300, seed)
    overall, _ = score(corpus, dcp_predictions(corpus))
    assert overall.recall >= 0.98, overall.misses
    assert overall.precision >= 0.97, overall.false_alarms
