"""Glue in the sandbox runs: crawlers write catalog tables, jobs run their script, workflows walk
their triggers and report every node, failures included, as Glue does."""

from __future__ import annotations

import io
import secrets
import zipfile
from typing import Any

import pytest

from tests.sandbox_fixture import SERVICE_POLICY, SandboxServer, wait_for

pytestmark = pytest.mark.slow

JOB_SCRIPT = """
import sys
import boto3
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import io

import jobhelp  # from --extra-py-files

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
if args.get("--fail") == "yes":
    raise SystemExit("ValueError: the input is not what this job expects")
s3 = boto3.client("s3")
bucket = args["--bucket"]
for obj in s3.list_objects_v2(Bucket=bucket, Prefix=args["--source"]).get("Contents", []):
    table = obj["Key"].split("/")[-2]
    data = pacsv.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()))
    out = io.BytesIO()
    pq.write_table(jobhelp.transform(data), out)
    s3.put_object(Bucket=bucket, Key=f"{args['--target']}{table}/part-00000.parquet", Body=out.getvalue())
who = boto3.client("sts").get_caller_identity()["Arn"]
s3.put_object(Bucket=bucket, Key="marker/identity", Body=who.encode())
"""
HELPER = "def transform(table):\n    return table.drop_columns([c for c in table.column_names if c == 'email'])\n"


class Lake:
    """A bucket with raw CSV tables, two crawlers, a job and a workflow chaining them."""

    def __init__(self, sb: SandboxServer) -> None:
        self.sb, self.glue, self.s3 = sb, sb.client("glue"), sb.client("s3")
        self.id = secrets.token_hex(4)
        self.bucket = f"lake-{self.id}"
        self.s3.create_bucket(Bucket=self.bucket)
        for table, body in (
            ("customer", b"id,name,email,score\n1,Ann,a@example.com,1.5\n2,Bob,b@example.com,2.0\n"),
            ("card", b"id,number,valid\n1,4111111111111111,true\n"),
        ):
            self.s3.put_object(Bucket=self.bucket, Key=f"raw/dataset/{table}/LOAD00000001.csv", Body=body)
        self.raw_db, self.cur_db = f"raw_{self.id}", f"cur_{self.id}"
        self.role = sb.create_role(f"glue-{self.id}", service="glue.amazonaws.com", policy=SERVICE_POLICY)
        for name, db, path, prefix in (
            (f"raw-{self.id}", self.raw_db, f"s3://{self.bucket}/raw/dataset/", ""),
            (f"cur-{self.id}", self.cur_db, f"s3://{self.bucket}/curated/", "masked_"),
        ):
            self.glue.create_database(DatabaseInput={"Name": db})
            self.glue.create_crawler(
                Name=name,
                Role=self.role,
                DatabaseName=db,
                TablePrefix=prefix,
                Targets={"S3Targets": [{"Path": path}]},
            )
        self.raw_crawler, self.cur_crawler = f"raw-{self.id}", f"cur-{self.id}"
        self.s3.put_object(Bucket=self.bucket, Key="glue/job.py", Body=JOB_SCRIPT.encode())
        lib = io.BytesIO()
        with zipfile.ZipFile(lib, "w") as z:
            z.writestr("jobhelp.py", HELPER)
        self.s3.put_object(Bucket=self.bucket, Key="glue/lib.zip", Body=lib.getvalue())
        self.job = f"mask-{self.id}"
        self.glue.create_job(
            Name=self.job,
            Role=self.role,
            GlueVersion="5.0",
            Command={
                "Name": "glueetl",
                "ScriptLocation": f"s3://{self.bucket}/glue/job.py",
                "PythonVersion": "3",
            },
            DefaultArguments={
                "--bucket": self.bucket,
                "--source": "raw/dataset/",
                "--target": "curated/",
                "--extra-py-files": f"s3://{self.bucket}/glue/lib.zip",
            },
        )

    def workflow(self, job_args: dict[str, str] | None = None) -> str:
        name = f"wf-{self.id}-{secrets.token_hex(2)}"
        self.glue.create_workflow(Name=name)
        self.glue.create_trigger(
            Name=f"{name}-start",
            WorkflowName=name,
            Type="ON_DEMAND",
            Actions=[{"CrawlerName": self.raw_crawler}],
        )
        self.glue.create_trigger(
            Name=f"{name}-after-crawl",
            WorkflowName=name,
            Type="CONDITIONAL",
            StartOnCreation=True,
            Predicate={
                "Logical": "AND",
                "Conditions": [
                    {"LogicalOperator": "EQUALS", "CrawlerName": self.raw_crawler, "CrawlState": "SUCCEEDED"}
                ],
            },
            Actions=[{"JobName": self.job, **({"Arguments": job_args} if job_args else {})}],
        )
        self.glue.create_trigger(
            Name=f"{name}-after-job",
            WorkflowName=name,
            Type="CONDITIONAL",
            StartOnCreation=True,
            Predicate={
                "Logical": "ANY",
                "Conditions": [{"LogicalOperator": "EQUALS", "JobName": self.job, "State": "SUCCEEDED"}],
            },
            Actions=[{"CrawlerName": self.cur_crawler}],
        )
        return name

    def run_workflow(self, name: str) -> dict[str, Any]:
        run_id = self.glue.start_workflow_run(Name=name)["RunId"]

        def finished() -> dict[str, Any] | None:
            run = self.glue.get_workflow_run(Name=name, RunId=run_id, IncludeGraph=True)["Run"]
            return run if run["Status"] != "RUNNING" else None

        return dict(wait_for(finished, timeout=90, what="the workflow run"))


@pytest.fixture
def lake(sandbox_server: SandboxServer) -> Lake:
    return Lake(sandbox_server)


def crawl(lake: Lake, name: str) -> dict[str, Any]:
    lake.glue.start_crawler(Name=name)
    assert lake.glue.get_crawler(Name=name)["Crawler"]["State"] in ("RUNNING", "STOPPING", "READY")

    def done() -> dict[str, Any] | None:
        c = lake.glue.get_crawler(Name=name)["Crawler"]
        return c if c["State"] == "READY" and "LastCrawl" in c else None

    return dict(wait_for(done, what=f"crawler {name}"))


def test_crawler_creates_tables_and_updates_them_when_the_schema_changes(lake: Lake) -> None:
    crawler = crawl(lake, lake.raw_crawler)
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    tables = {t["Name"]: t for t in lake.glue.get_tables(DatabaseName=lake.raw_db)["TableList"]}
    assert set(tables) == {"customer", "card"}
    customer = tables["customer"]
    assert [(c["Name"], c["Type"]) for c in customer["StorageDescriptor"]["Columns"]] == [
        ("id", "bigint"),
        ("name", "string"),
        ("email", "string"),
        ("score", "double"),
    ]
    assert customer["StorageDescriptor"]["Location"] == f"s3://{lake.bucket}/raw/dataset/customer/"
    assert customer["Parameters"]["classification"] == "csv"
    assert customer["StorageDescriptor"]["SerdeInfo"]["Parameters"] == {"field.delim": ","}
    assert customer["Parameters"]["skip.header.line.count"] == "1"
    assert [(c["Name"], c["Type"]) for c in tables["card"]["StorageDescriptor"]["Columns"]][2] == (
        "valid",
        "boolean",
    )
    metrics = lake.glue.get_crawler_metrics(CrawlerNameList=[lake.raw_crawler])["CrawlerMetricsList"][0]
    assert (metrics["TablesCreated"], metrics["TablesUpdated"]) == (2, 0)

    lake.s3.put_object(
        Bucket=lake.bucket,
        Key="raw/dataset/customer/20261127-101010123.csv",
        Body=b"Op,id,name,email,score\nI,3,Cy,c@example.com,2.5\n",
    )
    crawl(lake, lake.raw_crawler)
    columns = lake.glue.get_table(DatabaseName=lake.raw_db, Name="customer")["Table"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == ["id", "name", "email", "score", "op"]
    metrics = lake.glue.get_crawler_metrics(CrawlerNameList=[lake.raw_crawler])["CrawlerMetricsList"][0]
    assert (metrics["TablesCreated"], metrics["TablesUpdated"]) == (0, 1)


def test_crawler_on_missing_bucket_fails_with_a_reason(lake: Lake) -> None:
    lake.glue.create_crawler(
        Name=f"bad-{lake.id}",
        Role=lake.role,
        DatabaseName=lake.raw_db,
        Targets={"S3Targets": [{"Path": f"s3://no-such-bucket-{lake.id}/x/"}]},
    )
    last = crawl(lake, f"bad-{lake.id}")["LastCrawl"]
    assert last["Status"] == "FAILED" and "no-such-bucket" in last["ErrorMessage"]


def test_workflow_runs_crawler_job_crawler_and_reports_every_node(lake: Lake) -> None:
    name = lake.workflow()
    run = lake.run_workflow(name)
    assert run["Status"] == "COMPLETED"
    stats = run["Statistics"]
    assert (stats["TotalActions"], stats["SucceededActions"], stats["FailedActions"]) == (3, 3, 0)
    nodes = {(n["Type"], n["Name"]): n for n in run["Graph"]["Nodes"]}
    assert nodes[("CRAWLER", lake.raw_crawler)]["CrawlerDetails"]["Crawls"][0]["State"] == "SUCCEEDED"
    assert nodes[("CRAWLER", lake.cur_crawler)]["CrawlerDetails"]["Crawls"][0]["State"] == "SUCCEEDED"
    job_run = nodes[("JOB", lake.job)]["JobDetails"]["JobRuns"][0]
    assert job_run["JobRunState"] == "SUCCEEDED"
    assert job_run["Arguments"]["--WORKFLOW_RUN_ID"] == run["WorkflowRunId"]
    assert len(run["Graph"]["Edges"]) == 5  # 3 trigger->action, 2 condition->trigger

    # the job ran as its role, through the sandbox, with its extra-py-files module
    identity = lake.s3.get_object(Bucket=lake.bucket, Key="marker/identity")["Body"].read().decode()
    assert f":assumed-role/glue-{lake.id}/" in identity
    masked = lake.glue.get_table(DatabaseName=lake.cur_db, Name="masked_customer")["Table"]
    assert masked["Parameters"]["classification"] == "parquet"
    assert [c["Name"] for c in masked["StorageDescriptor"]["Columns"]] == ["id", "name", "score"]
    assert lake.glue.get_job_run(JobName=lake.job, RunId=job_run["Id"])["JobRun"]["JobRunState"] == "SUCCEEDED"
    assert lake.glue.get_workflow(Name=name)["Workflow"]["LastRun"]["WorkflowRunId"] == run["WorkflowRunId"]


def test_failed_job_stops_the_chain_and_reports_its_error(lake: Lake) -> None:
    name = lake.workflow(job_args={"--fail": "yes"})
    run = lake.run_workflow(name)
    assert run["Status"] == "COMPLETED"
    stats = run["Statistics"]
    assert (stats["SucceededActions"], stats["FailedActions"], stats["TotalActions"]) == (1, 1, 2)
    nodes = {(n["Type"], n["Name"]): n for n in run["Graph"]["Nodes"]}
    job_run = nodes[("JOB", lake.job)]["JobDetails"]["JobRuns"][0]
    assert job_run["JobRunState"] == "FAILED"
    assert "the input is not what this job expects" in job_run["ErrorMessage"]
    assert nodes[("CRAWLER", lake.cur_crawler)]["CrawlerDetails"]["Crawls"] == []
