"""Cost of a CDC round with incremental runs: raw bytes read, output bytes written, wall time.

Puts the Faker ``customer`` and ``bank`` tables (default 100,000 rows each, DMS-style LOAD files)
and their findings into S3 served by moto on loopback, runs the mask-PII job (Arrow engine) once
in full, then CDC rounds of 0.1%, 1% and 10% of the rows per table (updates, deletes, inserts,
and keys inserted and deleted within the round), each followed by an incremental run; prints
one markdown row per run. Repeated per bucket count, since a round rewrites the buckets its
changed keys fall into.

    .venv/bin/python -m bench.incremental [--rows 100000] [--buckets 32,256] [--fractions 0.001,0.01,0.1]
"""

from __future__ import annotations

import argparse
import os
import random
import time

from dcp.gluejob.job import JobReport, run_job
from tests.unit.gluejob.gluejob_lake import CREDENTIALS, SAMPLE_POLICY, Lake, moto_server, put_sample_tables
from tests.unit.gluejob.incremental_rounds import Model, cdc_round

TABLES = ("customer", "bank")


def line(label: str, report: JobReport, seconds: float, changed: int) -> str:
    tables = [t for t in report.tables if t.table in TABLES]
    raw = sum(t.raw_bytes_read for t in tables)
    read = sum(t.output_bytes_read for t in tables)
    written = sum(t.output_bytes_written for t in tables)
    buckets = sum(t.buckets_rewritten for t in tables)
    files = sum(t.raw_files_read for t in tables)
    return (
        f"| {label} | {changed:,} | {files} | {raw / 1e6:,.2f} | {read / 1e6:,.2f} | {written / 1e6:,.2f} "
        f"| {buckets} | {seconds:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--buckets", default="32,256", help="comma list of bucket counts to compare")
    parser.add_argument("--fractions", default="0.001,0.01,0.1", help="rows changed per round, per table")
    options = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(
        "| run | keys changed | raw files read | raw MB read | output MB read | output MB written "
        "| buckets rewritten | wall s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with moto_server() as endpoint:
        os.environ.update({**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
        for buckets in (int(b) for b in options.buckets.split(",")):
            lake = Lake.create(endpoint)
            raw = put_sample_tables(lake, options.rows, files=2, decoys=())
            raw = {name: table for name, table in raw.items() if name in TABLES}
            fresh = 5 * max(1, round(max(float(f) for f in options.fractions.split(",")) * options.rows))
            model = Model.of(raw, fresh_rows=fresh)
            args = lake.args(policy=SAMPLE_POLICY, batch_size=10_000, buckets=buckets, tables=TABLES)
            started = time.perf_counter()
            report = run_job(args, clients=lake.clients())
            print(line(f"full, {buckets} buckets", report, time.perf_counter() - started, options.rows * len(TABLES)))
            rng = random.Random(buckets)
            for round_no, fraction in enumerate((float(f) for f in options.fractions.split(",")), start=1):
                size = max(1, round(fraction * options.rows / 4))  # a round changes about 4 x size keys
                for table in TABLES:
                    cdc_round(lake, model, table, round_no, rng, size=size)
                changed = sum(len(model.touched[table]) for table in TABLES)
                started = time.perf_counter()
                report = run_job(args, clients=lake.clients())
                seconds = time.perf_counter() - started
                print(line(f"{fraction:.1%} round, {buckets} buckets", report, seconds, changed))
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
