"""Benchmark: one large table through the sandbox's data plane in bounded memory.

    .venv/bin/python -m bench.sandbox [--rows 1000000] [--job mask_pii|copy] [--keep]

Starts a sandbox server, seeds the SQLite database behind a sandbox RDS instance, then runs
DMS full load -> crawler -> Glue job -> crawler -> Athena `count(*)` over raw and masked tables,
printing the wall time of each stage and the peak RSS (VmHWM) of the sandbox process. The goal
is a peak below 1 GB for a million rows. `--job mask_pii` runs glue_jobs/mask_pii.py (the real
job, arrow engine, no findings: tables are copied as masked Parquet); `--job copy` a minimal
streaming CSV -> Parquet script.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parent.parent

from dcp.pipeline.waiting import Deadline, poll  # noqa: E402
from dcp.sandbox import control  # noqa: E402

REGION = "us-east-1"
ADMIN = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
RAW, CURATED, FINDINGS, RESULTS = "bench-raw", "bench-curated", "bench-findings", "bench-results"
COPY_JOB = """
import sys, tempfile, os
import boto3
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
s3 = boto3.client("s3")
for obj in s3.list_objects_v2(Bucket=args["--raw_bucket"], Prefix=args["--raw_prefix"])["Contents"]:
    table = obj["Key"].split("/")[-2]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.csv"), os.path.join(tmp, "out.parquet")
        s3.download_file(args["--raw_bucket"], obj["Key"], src)
        reader = pacsv.open_csv(src)
        with pq.ParquetWriter(dst, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
        name = obj["Key"].rsplit("/", 1)[-1].replace(".csv", ".parquet")
        s3.upload_file(dst, args["--curated_bucket"], f"masked/{table}/{name}")
"""


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def vm_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    return poll(check, bool, Deadline(what, timeout), interval=0.25, max_interval=1.0)


def rows(n: int) -> Iterator[tuple[Any, ...]]:
    for i in range(1, n + 1):
        yield (
            i,
            f"Customer {i}",
            f"user{i}@example.com",
            f"+1-555-{i % 10000:04d}",
            f"City {i % 997}",
            round(i * 0.37 % 10000, 2),
            f"2026-01-{i % 28 + 1:02d} 10:{i % 60:02d}:00",
        )


SERVICE_ROLES = (("bench-dms", "dms.amazonaws.com"), ("bench-glue", "glue.amazonaws.com"))
#: What the bench's service roles may do: the stages' data and catalog, nothing of IAM.
BENCH_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "glue:*", "kms:*", "logs:*"], "Resource": "*"}],
}


def service_role(iam: Any, name: str, service: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="bench", PolicyDocument=json.dumps(BENCH_POLICY))
    return arn


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--job", choices=("mask_pii", "copy"), default="mask_pii")
    parser.add_argument("--max-file-kb", type=int, default=32 * 1024, help="DMS S3Settings.MaxFileSize")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running")
    args = parser.parse_args()

    state_dir = Path(tempfile.mkdtemp(prefix="dcp-bench-")) / ".dcp"
    started = control.start(state_dir)
    assert started.url and started.pid
    pid, url = started.pid, started.url

    def client(service: str) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=url, **ADMIN)  # type: ignore[call-overload]

    timings: list[tuple[str, float, float]] = []

    def stage(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.monotonic()
        out = fn()
        timings.append((name, time.monotonic() - t0, vm_rss_mb(pid)))
        print(f"{name:<28} {timings[-1][1]:8.1f} s   sandbox RSS {timings[-1][2]:7.0f} MB", flush=True)
        return out

    try:
        s3, rds, dms, glue, athena = (client(s) for s in ("s3", "rds", "dms", "glue", "athena"))
        for b in (RAW, CURATED, FINDINGS, RESULTS):
            s3.create_bucket(Bucket=b)
        # Services act as their roles (the sandbox's gates): DMS writes as its endpoint's role,
        # crawlers and the job run as the Glue role.
        dms_role, glue_role = (service_role(client("iam"), name, svc) for name, svc in SERVICE_ROLES)

        def seed() -> None:
            rds.create_db_instance(
                DBInstanceIdentifier="bench-source",
                DBInstanceClass="db.t3.micro",
                Engine="mysql",
                AllocatedStorage=20,
                MasterUsername="dcpadmin",
                MasterUserPassword="bench-password-1",
                DBName="dataset",
            )
            con = sqlite3.connect(state_dir / "rds" / "bench-source.sqlite")  # the instance's data
            con.execute(
                "CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT, email TEXT, phone TEXT,"
                " city TEXT, balance REAL, created TEXT)"
            )
            con.executemany("INSERT INTO customer VALUES (?, ?, ?, ?, ?, ?, ?)", rows(args.rows))
            con.commit()
            con.close()

        stage(f"seed {args.rows:,} rows", seed)

        src = dms.create_endpoint(
            EndpointIdentifier="bench-src",
            EndpointType="source",
            EngineName="mysql",
            ServerName=rds.describe_db_instances(DBInstanceIdentifier="bench-source")["DBInstances"][0]["Endpoint"][
                "Address"
            ],
            Port=3306,
            Username="dcpadmin",
            Password="bench-password-1",
            DatabaseName="dataset",
        )["Endpoint"]
        tgt = dms.create_endpoint(
            EndpointIdentifier="bench-tgt",
            EndpointType="target",
            EngineName="s3",
            S3Settings={
                "BucketName": RAW,
                "AddColumnName": True,
                "MaxFileSize": args.max_file_kb,
                "ServiceAccessRoleArn": dms_role,
            },
        )["Endpoint"]
        ri = dms.create_replication_instance(
            ReplicationInstanceIdentifier="bench-ri", ReplicationInstanceClass="dms.t3.micro"
        )["ReplicationInstance"]
        task = dms.create_replication_task(
            ReplicationTaskIdentifier="bench-task",
            SourceEndpointArn=src["EndpointArn"],
            TargetEndpointArn=tgt["EndpointArn"],
            ReplicationInstanceArn=ri["ReplicationInstanceArn"],
            MigrationType="full-load-and-cdc",
            TableMappings=json.dumps(
                {
                    "rules": [
                        {
                            "rule-type": "selection",
                            "rule-id": "1",
                            "rule-name": "1",
                            "rule-action": "include",
                            "object-locator": {"schema-name": "%", "table-name": "%"},
                        }
                    ]
                }
            ),
        )["ReplicationTask"]["ReplicationTaskArn"]

        def replicate() -> None:
            dms.start_replication_task(ReplicationTaskArn=task, StartReplicationTaskType="start-replication")

            def loaded() -> bool:
                d = dms.describe_replication_tasks()["ReplicationTasks"][0]
                if d["Status"] == "failed":
                    raise SystemExit(f"DMS failed: {d.get('LastFailureMessage')}")
                return bool(d["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100)

            wait_for(loaded, 1800, "the DMS full load")

        stage("DMS full load", replicate)
        files = s3.list_objects_v2(Bucket=RAW).get("Contents", [])
        print(f"  {len(files)} LOAD files, {sum(o['Size'] for o in files) / 1e6:.0f} MB")

        for name, db, path in (
            ("bench-raw", "dataset", f"s3://{RAW}/dataset/"),
            ("bench-masked", "dataset_masked", f"s3://{CURATED}/masked/"),
        ):
            glue.create_database(DatabaseInput={"Name": db})
            glue.create_crawler(
                Name=name,
                Role=glue_role,
                DatabaseName=db,
                Targets={"S3Targets": [{"Path": path}]},
            )

        def crawl(name: str) -> Callable[[], None]:
            def run() -> None:
                glue.start_crawler(Name=name)
                c = wait_for(
                    lambda: (
                        (c := glue.get_crawler(Name=name)["Crawler"])["State"] == "READY" and "LastCrawl" in c and c
                    ),
                    600,
                    name,
                )
                if c["LastCrawl"]["Status"] != "SUCCEEDED":
                    raise SystemExit(f"crawler {name}: {c['LastCrawl'].get('ErrorMessage')}")

            return run

        stage("crawl raw", crawl("bench-raw"))

        if args.job == "mask_pii":
            script = (ROOT / "glue_jobs" / "mask_pii.py").read_bytes()
            key_id = client("kms").create_key()["KeyMetadata"]["KeyId"]
            job_args = {
                "--raw_bucket": RAW,
                "--raw_prefix": "dataset/",
                "--findings_bucket": FINDINGS,
                "--curated_bucket": CURATED,
                "--data_key_id": key_id,
                "--token_key": "00" * 32,
                "--engine": "arrow",
            }
        else:
            script = COPY_JOB.encode()
            job_args = {"--raw_bucket": RAW, "--raw_prefix": "dataset/", "--curated_bucket": CURATED}
        s3.put_object(Bucket=CURATED, Key="glue/job.py", Body=script)
        glue.create_job(
            Name="bench-job",
            Role=glue_role,
            Command={"Name": "glueetl", "ScriptLocation": f"s3://{CURATED}/glue/job.py"},
            DefaultArguments=job_args,
            GlueVersion="5.0",
        )

        def job() -> None:
            run_id = glue.start_job_run(JobName="bench-job")["JobRunId"]
            jr = wait_for(
                lambda: (
                    (r := glue.get_job_run(JobName="bench-job", RunId=run_id)["JobRun"])["JobRunState"]
                    not in ("STARTING", "RUNNING")
                    and r
                ),
                3600,
                "the job run",
            )
            if jr["JobRunState"] != "SUCCEEDED":
                raise SystemExit(f"job {jr['JobRunState']}: {jr.get('ErrorMessage')}")

        stage(f"Glue job ({args.job})", job)
        stage("crawl masked", crawl("bench-masked"))

        def count(db: str) -> Callable[[], None]:
            def run() -> None:
                qid = athena.start_query_execution(
                    QueryString="SELECT count(*) FROM customer",
                    QueryExecutionContext={"Database": db},
                    ResultConfiguration={"OutputLocation": f"s3://{RESULTS}/"},
                )["QueryExecutionId"]
                q = wait_for(
                    lambda: (
                        (q := athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"])["Status"]["State"]
                        in ("SUCCEEDED", "FAILED")
                        and q
                    ),
                    1200,
                    "the query",
                )
                if q["Status"]["State"] != "SUCCEEDED":
                    raise SystemExit(f"query failed: {q['Status'].get('StateChangeReason')}")
                got = athena.get_query_results(QueryExecutionId=qid)["ResultSet"]["Rows"][1]["Data"][0]
                if int(got["VarCharValue"]) != args.rows:
                    raise SystemExit(f"count(*) over {db}.customer = {got['VarCharValue']}, expected {args.rows}")

            return run

        stage("Athena count(*) raw", count("dataset"))
        stage("Athena count(*) masked", count("dataset_masked"))

        total = sum(t for _, t, _ in timings)
        peak = vm_hwm_mb(pid)
        print(f"{'total':<28} {total:8.1f} s")
        print(f"sandbox peak RSS (VmHWM): {peak:.0f} MB  ({'OK' if peak < 1024 else 'OVER'} the 1 GB goal)")
        return 0 if peak < 1024 else 1
    finally:
        if not args.keep:
            control.stop(state_dir)
        else:
            print(f"sandbox left running at {url} (state {state_dir})")


if __name__ == "__main__":
    sys.exit(main())
