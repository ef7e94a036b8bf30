"""Rows per second of the mask-PII job: Spark local mode beside the Arrow engine, same data.

Puts the Faker ``customer`` table (default 1,000,000 rows, in DMS-style LOAD files) and its
finding into S3 served by moto on loopback, runs the job once with each engine (the Spark
session is started and warmed up before timing), and prints one line per engine. Both runs
include the S3 reads and writes through moto.

    .venv/bin/python -m bench.spark [--rows 1000000] [--files 4] [--cores 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from dcp.gluejob.job import run_job
from dcp.masking.sample_data import generate_table
from tests.unit.gluejob.gluejob_lake import CREDENTIALS, SAMPLE_COLUMNS, SAMPLE_POLICY, Lake, finding_for, moto_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=4, help="LOAD files the table is split into")
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    options = parser.parse_args()

    with moto_server() as endpoint:
        os.environ.update({**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint})
        lake = Lake.create(endpoint)
        started = time.perf_counter()
        table = generate_table("customer", options.rows, seed=1)
        step = -(-options.rows // options.files)
        keys = [
            lake.put_raw("customer", f"LOAD{i + 1:08d}.csv", table.slice(start, step))
            for i, start in enumerate(range(0, options.rows, step))
        ]
        lake.put_findings([finding_for(lake.raw_bucket, keys[0], SAMPLE_COLUMNS["customer"])])
        made = time.perf_counter() - started
        print(f"data: {options.rows:,} customer rows in {len(keys)} CSV files ({made:.1f}s to make)")
        # a small table elsewhere to warm up Spark (JVM, Python workers, imports are not the job's cost)
        lake.put_raw("customer", "LOAD00000001.csv", table.slice(0, 1000), prefix="warmup/")
        args = lake.args(policy=SAMPLE_POLICY, batch_size=10_000, full_rebuild=True)  # both runs: every row

        started = time.perf_counter()
        report = run_job(args, clients=lake.clients())
        seconds = time.perf_counter() - started
        print(f"arrow engine:  {report.rows / seconds:>10,.0f} rows/s  ({seconds:.1f}s, 1 process)")

        spark = start_spark(options.cores, endpoint)
        run_job(lake.args(policy=SAMPLE_POLICY, raw_prefix="warmup/"), clients=lake.clients(), spark=spark)
        started = time.perf_counter()
        report = run_job(args, clients=lake.clients(), spark=spark)
        seconds = time.perf_counter() - started
        parts = report.tables[0].masked_parts
        print(
            f"spark engine:  {report.rows / seconds:>10,.0f} rows/s  "
            f"({seconds:.1f}s, local[{options.cores}], {parts} parts)"
        )
        spark.stop()


def start_spark(cores: int, endpoint: str) -> Any:
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(cores * 2))
        .config("spark.driver.memory", "4g")
    )
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}.items():
        builder = builder.config(f"spark.executorEnv.{name}", value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


if __name__ == "__main__":
    main()
