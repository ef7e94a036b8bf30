"""Recall and precision of detection on the labelled corpus (bench/corpus.py), beside Presidio's.

Prints per identifier and over all columns: a (table, column, type) triple is one label or one
prediction. dcp scans every row of each table written as CSV, as ``dcp classify`` does;
Presidio (when ``presidio_analyzer`` is installed; it is no dependency of dcp) analyses the
first ``--presidio-rows`` cells of each column, its entity types mapped to Macie's IDs.

Usage: ``.venv/bin/python -m bench.detection [--rows N] [--seed N] [--verbose]``
"""

from __future__ import annotations

import argparse
import io
import time
from typing import Any

import pyarrow.csv as pacsv

from bench.corpus import LabelledTable, Score, generate_corpus, score
from dcp.masking.detect import classify_source

#: Presidio entity -> the Macie (or dcp) type it corresponds to
PRESIDIO_TYPES = {
    "PERSON": "NAME",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD_NUMBER",
    "IBAN_CODE": "INTERNATIONAL_BANK_ACCOUNT_NUMBER",
    "US_SSN": "USA_SOCIAL_SECURITY_NUMBER",
    "US_PASSPORT": "USA_PASSPORT_NUMBER",
    "US_BANK_NUMBER": "BANK_ACCOUNT_NUMBER",
    "IP_ADDRESS": "IP_ADDRESS",
    "DATE_TIME": "DATE_OF_BIRTH",
    "LOCATION": "ADDRESS",
}


def dcp_predictions(corpus: list[LabelledTable]) -> set[tuple[str, str, str]]:
    predicted: set[tuple[str, str, str]] = set()
    for labelled in corpus:
        buffer = io.BytesIO()
        pacsv.write_csv(labelled.table, buffer)
        finding = classify_source(buffer.getvalue(), key=f"bench/{labelled.name}/LOAD00000001.csv")
        for detection in finding.detections if finding else ():
            predicted.update((labelled.name, column, detection.type) for column in detection.columns)
    return predicted


def presidio_predictions(corpus: list[LabelledTable], rows: int) -> set[tuple[str, str, str]] | None:
    try:
        from presidio_analyzer import AnalyzerEngine  # type: ignore[import-not-found]
    except ImportError:
        return None
    engine: Any = AnalyzerEngine()
    predicted: set[tuple[str, str, str]] = set()
    for labelled in corpus:
        for column in labelled.table.column_names:
            for value in labelled.table.column(column).slice(0, rows).to_pylist():
                for result in engine.analyze(text=f"{column}: {value}", language="en"):
                    mapped = PRESIDIO_TYPES.get(result.entity_type)
                    if mapped:
                        predicted.add((labelled.name, column, mapped))
    return predicted


def report(title: str, overall: Score, per_type: dict[str, Score], verbose: bool) -> list[str]:
    lines = [f"\n== {title} ==", f"{'type':36s} {'TP':>4s} {'FN':>4s} {'FP':>4s} {'recall':>7s} {'precision':>9s}"]
    for type_, s in sorted(per_type.items()):
        lines.append(
            f"{type_:36s} {s.true_positive:>4d} {s.false_negative:>4d} {s.false_positive:>4d}"
            f" {s.recall:>7.3f} {s.precision:>9.3f}"
        )
    lines.append(
        f"{'all columns':36s} {overall.true_positive:>4d} {overall.false_negative:>4d} {overall.false_positive:>4d}"
        f" {overall.recall:>7.3f} {overall.precision:>9.3f}"
    )
    if verbose:
        lines += [f"  missed      {m}" for m in overall.misses]
        lines += [f"  false alarm {f}" for f in overall.false_alarms]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--presidio-rows", type=int, default=100)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    corpus = generate_corpus(args.rows, args.seed)
    columns = sum(len(t.labels) for t in corpus)
    pii = sum(1 for t in corpus for types in t.labels.values() if types)
    lines = [f"corpus: {len(corpus)} tables, {columns} columns ({pii} with personal data), {args.rows:,} rows each"]
    start = time.perf_counter()
    overall, per_type = score(corpus, dcp_predictions(corpus))
    lines += report(f"dcp ({time.perf_counter() - start:.1f} s)", overall, per_type, args.verbose)
    presidio = presidio_predictions(corpus, args.presidio_rows)
    if presidio is None:
        lines.append("\nPresidio: not installed (pip install presidio-analyzer and a spaCy model to compare)")
    else:
        lines += report(
            f"Presidio (first {args.presidio_rows} cells per column)", *score(corpus, presidio), args.verbose
        )
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
