"""Column-level recall and precision of detection on a Faker corpus with decoy-heavy tables."""

from __future__ import annotations

import io

import pyarrow.csv as pacsv
import pytest

from dcp.masking.detect import classify_source
from dcp.masking.identifiers import DEFAULT_CUSTOM_IDENTIFIERS
from dcp.masking.sample_data import DECOY_TABLES, EXPECTED_TYPES, PII_TABLES, generate_table

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [11, 12])
def test_column_level_recall_and_precision(seed: int) -> None:
    predicted: set[tuple[str, str, str]] = set()
    for table in PII_TABLES + DECOY_TABLES:
        buffer = io.BytesIO()
        pacsv.write_csv(generate_table(table, 4000, seed=seed), buffer)
        finding = classify_source(
            buffer.getvalue(),
            key=f"sales/{table}/LOAD00000001.csv",
            custom_identifiers=DEFAULT_CUSTOM_IDENTIFIERS,
        )
        for detection in finding.detections if finding else ():
            predicted.update((table, column, detection.type) for column in detection.columns)

    expected_columns = {(t, c) for t, columns in EXPECTED_TYPES.items() for c in columns}
    found_columns = {(t, c) for t, c, type_ in predicted if type_ in EXPECTED_TYPES.get(t, {}).get(c, frozenset())}
    recall = len(found_columns & expected_columns) / len(expected_columns)
    correct = [p for p in predicted if p[2] in EXPECTED_TYPES.get(p[0], {}).get(p[1], frozenset())]
    precision = len(correct) / len(predicted)
    wrong = sorted(set(predicted) - set(correct))
    assert recall == 1.0, sorted(expected_columns - found_columns)
    assert precision >= 0.98, wrong
