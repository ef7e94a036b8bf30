"""Full-scan detection time over the time Arrow takes to parse the same CSV, same process and cores.

Two files of the same size: ``repeated``, the wide sample table of bench/masking.py whose columns
repeat values as real tables do (names, statuses, codes drawn from pools), and ``distinct``, in
which every cell of every column is distinct (unique names, e-mails, card numbers, notes,
timestamps, amounts). Both are parsed with ``pyarrow.csv.read_csv`` (the baseline) and scanned
in full by ``classify_source``; times are CPU seconds (best of ``--repeats``, parse and scan
alternating) with Arrow limited to one thread for both, so other processes on a shared machine
disturb them less and both sides use the same core.

Usage: ``.venv/bin/python -m bench.detection_speed [--csv-mb N] [--repeats N]``
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from bench.masking import write_detection_csv
from dcp.masking.detect import classify_source
from dcp.masking.identifiers import DEFAULT_CUSTOM_IDENTIFIERS
from dcp.masking.sample_data import generate_table


def _luhn_complete(bodies: list[str]) -> list[str]:
    completed = []
    for body in bodies:
        total = 0
        for index, char in enumerate(reversed(body)):
            digit = int(char) * (2 if index % 2 == 0 else 1)
            total += digit - 9 if digit > 9 else digit
        completed.append(body + str((10 - total % 10) % 10))
    return completed


def distinct_block(rows: int, offset: int) -> pa.Table:
    """``rows`` rows in which no cell repeats (row numbers from ``offset`` make them unique)."""
    people = generate_table("customer", rows, seed=offset)
    rng = random.Random(offset)
    numbers = pa.array(range(offset, offset + rows), pa.int64())
    text = pc.cast(numbers, pa.string())
    mails = pc.replace_substring_regex(people.column("mail"), pattern="@", replacement="", max_replacements=1)
    return pa.table(
        {
            "id": numbers,
            "name": pc.binary_join_element_wise(people.column("name"), pc.utf8_lpad(text, 9, "0"), " "),
            "mail": pc.binary_join_element_wise(mails, text, "@example.org"),
            "card_number": pa.array(_luhn_complete([f"4{n:014d}" for n in range(offset, offset + rows)])),
            "note": pc.binary_join_element_wise("Order ", text, " shipped in boxes, ticket ", text, ""),
            "created_at": pa.array(range(1_600_000_000 + offset, 1_600_000_000 + offset + rows), pa.int64()).cast(
                pa.timestamp("s")
            ),
            "total": pa.array([round(rng.uniform(0, 1e6), 2) + n * 1e-9 for n in range(rows)], pa.float64()),
            "order_id": pc.binary_join_element_wise("ORD-", pc.utf8_lpad(text, 10, "0"), ""),
        }
    )


def write_distinct_csv(path: Path, megabytes: int) -> int:
    rows, offset = 50_000, 0
    schema = distinct_block(1, 0).schema
    with pacsv.CSVWriter(str(path), schema) as writer:
        while path.stat().st_size < megabytes * 1_000_000:
            writer.write_table(distinct_block(rows, offset))
            offset += rows
    return offset


def best(functions: Sequence[Callable[[], object]], repeats: int) -> list[float]:
    """CPU seconds of each function, best of ``repeats``; the functions alternate within each repeat.

    Alternating keeps a shared machine's drifting load from landing on one side of the ratio.
    """
    fastest = [float("inf")] * len(functions)
    for _ in range(repeats):
        for index, function in enumerate(functions):
            start = time.process_time()
            function()
            fastest[index] = min(fastest[index], time.process_time() - start)
    return fastest


def measure(name: str, path: Path, rows: int, repeats: int) -> tuple[float, float]:
    key = f"bench/{name}/LOAD00000001.csv"
    parse, scan = best(
        [
            lambda: pacsv.read_csv(path),
            lambda: classify_source(path, key=key, custom_identifiers=DEFAULT_CUSTOM_IDENTIFIERS),
        ],
        repeats,
    )
    size = path.stat().st_size / 1e6
    print(
        f"{name:9s} {size:6.1f} MB {rows:>9,} rows  parse {parse:6.2f} s ({size / parse:6.1f} MB/s)"
        f"  scan {scan:6.2f} s ({size / scan:5.1f} MB/s)  ratio {scan / parse:5.1f}x"
    )
    return parse, scan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv-mb", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    print(f"python {sys.version.split()[0]}, pyarrow {pa.__version__}, one core; load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="dcp-detect-speed-") as tmp:
        repeated, distinct = Path(tmp) / "repeated.csv", Path(tmp) / "distinct.csv"
        measure("repeated", repeated, write_detection_csv(repeated, args.csv_mb), args.repeats)
        measure("distinct", distinct, write_distinct_csv(distinct, args.csv_mb), args.repeats)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
