"""Athena in the sandbox: queries over Glue tables return Athena-shaped results, and each caller
sees exactly the columns Lake Formation's tag grants allow it."""

from __future__ import annotations

import csv
import io
import secrets
import time
from typing import Any

import pytest

from tests.sandbox_fixture import SERVICE_POLICY, SandboxServer

pytestmark = pytest.mark.slow

ROWS = 25
TAGS = {"zone": ["raw", "masked", "encrypted"], "sensitivity": ["public", "pii"]}


class Catalog:
    """A crawled, LF-tagged table dataset_masked.customer and personas with different grants."""

    def __init__(self, sb: SandboxServer) -> None:
        self.sb, self.id = sb, secrets.token_hex(4)
        s3, glue, lf = sb.client("s3"), sb.client("glue"), sb.client("lakeformation")
        self.bucket, self.results = f"cur-{self.id}", f"results-{self.id}"
        s3.create_bucket(Bucket=self.bucket)
        s3.create_bucket(Bucket=self.results)
        body = "id,name,email,city\n" + "".join(
            f"{i},Name {i},user{i}@example.com,{'' if i % 5 == 0 else f'City {i}'}\n" for i in range(1, ROWS + 1)
        )
        s3.put_object(Bucket=self.bucket, Key="masked/customer/part-0.csv", Body=body.encode())
        self.db = f"masked_{self.id}"
        glue.create_database(DatabaseInput={"Name": self.db})
        crawler = f"c-{self.id}"
        glue.create_crawler(
            Name=crawler,
            Role=sb.create_role("glue", service="glue.amazonaws.com", policy=SERVICE_POLICY),
            DatabaseName=self.db,
            Targets={"S3Targets": [{"Path": f"s3://{self.bucket}/masked/"}]},
        )
        glue.start_crawler(Name=crawler)
        deadline = time.monotonic() + 30
        while "LastCrawl" not in glue.get_crawler(Name=crawler)["Crawler"]:
            assert time.monotonic() < deadline, "crawler did not finish"
            time.sleep(0.05)
        existing = {t["TagKey"] for t in lf.list_lf_tags().get("LFTags", [])}
        for key, values in TAGS.items():
            if key not in existing:
                lf.create_lf_tag(TagKey=key, TagValues=values)
        # database zone=masked; the table public; name and email pii (column overrides table).
        lf.add_lf_tags_to_resource(
            Resource={"Database": {"Name": self.db}}, LFTags=[{"TagKey": "zone", "TagValues": ["masked"]}]
        )
        table = {"DatabaseName": self.db, "Name": "customer"}
        lf.add_lf_tags_to_resource(
            Resource={"Table": table}, LFTags=[{"TagKey": "sensitivity", "TagValues": ["public"]}]
        )
        lf.add_lf_tags_to_resource(
            Resource={"TableWithColumns": {**table, "ColumnNames": ["name", "email"]}},
            LFTags=[{"TagKey": "sensitivity", "TagValues": ["pii"]}],
        )
        self.wg = f"wg-{self.id}"
        sb.client("athena").create_work_group(
            Name=self.wg,
            Configuration={
                "ResultConfiguration": {
                    "OutputLocation": f"s3://{self.results}/athena/",
                    "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                },
                "EnforceWorkGroupConfiguration": True,
            },
        )

    def persona(self, name: str, expression: list[dict[str, Any]] | None) -> dict[str, Any]:
        role = self.sb.create_role(f"persona-{name}-{self.id}", policy=self.query_policy())
        if expression is not None:
            self.sb.client("lakeformation").grant_permissions(
                Principal={"DataLakePrincipalIdentifier": role},
                Resource={"LFTagPolicy": {"ResourceType": "TABLE", "Expression": expression}},
                Permissions=["SELECT", "DESCRIBE"],
            )
        return self.sb.assume(role, f"{name}-session")

    def query_policy(self) -> dict[str, Any]:
        """What a persona needs in IAM to query (Lake Formation then decides what it reads)."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "athena:*",
                    "Resource": f"arn:aws:athena:us-east-1:123456789012:workgroup/{self.wg}",
                },
                {"Effect": "Allow", "Action": ["glue:GetDatabase", "glue:GetTable", "glue:GetTables"], "Resource": "*"},
                {"Effect": "Allow", "Action": "lakeformation:GetDataAccess", "Resource": "*"},
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": f"arn:aws:s3:::{self.results}/*",
                },
                # The data's location is not registered with Lake Formation, so Athena reads it
                # with the caller's own S3 rights (Lake Formation still decides the columns).
                {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{self.bucket}"},
                {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{self.bucket}/*"},
            ],
        }

    def query(self, sql: str, credentials: dict[str, Any] | None) -> tuple[dict[str, Any], Any]:
        athena = self.sb.client("athena", credentials)
        qid = athena.start_query_execution(
            QueryString=sql, WorkGroup=self.wg, QueryExecutionContext={"Database": self.db}
        )["QueryExecutionId"]
        states = set()
        deadline = time.monotonic() + 60
        while True:
            q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            states.add(q["Status"]["State"])
            if q["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return q, athena
            assert time.monotonic() < deadline, f"query stuck in {q['Status']['State']}"
            time.sleep(0.05)

    def rows(self, sql: str, credentials: dict[str, Any] | None) -> list[list[str | None]]:
        q, athena = self.query(sql, credentials)
        assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
        rows = athena.get_query_results(QueryExecutionId=q["QueryExecutionId"])["ResultSet"]["Rows"]
        return [[d.get("VarCharValue") for d in r["Data"]] for r in rows]

    def failure(self, sql: str, credentials: dict[str, Any] | None) -> str:
        q, _ = self.query(sql, credentials)
        assert q["Status"]["State"] == "FAILED"
        return str(q["Status"]["StateChangeReason"])


@pytest.fixture(scope="module")
def catalog(sandbox_server: SandboxServer) -> Catalog:
    return Catalog(sandbox_server)


def test_three_personas_see_exactly_their_columns(catalog: Catalog) -> None:
    masked = {"TagKey": "zone", "TagValues": ["masked"]}
    analyst = catalog.persona("analyst", [masked, {"TagKey": "sensitivity", "TagValues": ["public"]}])
    scientist = catalog.persona("scientist", [masked])
    outsider = catalog.persona("outsider", [{"TagKey": "zone", "TagValues": ["raw"]}])
    sql = f'SELECT * FROM "{catalog.db}"."customer" ORDER BY id LIMIT 2'

    assert catalog.rows(sql, analyst) == [["id", "city"], ["1", "City 1"], ["2", "City 2"]]
    assert catalog.rows(sql, scientist)[0] == ["id", "name", "email", "city"]
    assert catalog.rows(sql, scientist)[1] == ["1", "Name 1", "user1@example.com", "City 1"]

    reason = catalog.failure(f"SELECT id, email FROM {catalog.db}.customer", analyst)
    assert reason.startswith(
        "COLUMN_NOT_FOUND: line 1:12: Column 'email' cannot be resolved or requester is not authorized"
    )
    assert catalog.failure("SELECT count(*) FROM customer", outsider).startswith(
        "Insufficient Lake Formation permission(s) on customer"
    )
    assert catalog.rows("SELECT count(*) FROM customer", analyst) == [["_col0"], [str(ROWS)]]


def test_admins_read_everything(catalog: Catalog, sandbox_server: SandboxServer) -> None:
    sql = "SELECT name, email FROM customer WHERE id = 3"
    assert catalog.rows(sql, None)[1] == ["Name 3", "user3@example.com"]  # the account's admin
    admin = catalog.persona("lfadmin", None)
    lf = sandbox_server.client("lakeformation")
    settings = lf.get_data_lake_settings()["DataLakeSettings"]
    role_arn = f"arn:aws:iam::123456789012:role/persona-lfadmin-{catalog.id}"
    settings["DataLakeAdmins"] = [
        *settings.get("DataLakeAdmins", []),
        {"DataLakePrincipalIdentifier": role_arn},
    ]
    lf.put_data_lake_settings(DataLakeSettings=settings)
    assert catalog.rows(sql, admin)[1] == ["Name 3", "user3@example.com"]


def test_results_paginate_and_land_encrypted_in_the_workgroup_location(catalog: Catalog) -> None:
    q, athena = catalog.query("SELECT id, city FROM customer ORDER BY id", None)
    qid = q["QueryExecutionId"]
    assert q["ResultConfiguration"]["OutputLocation"] == f"s3://{catalog.results}/athena/{qid}.csv"
    assert q["Statistics"]["DataScannedInBytes"] > 0
    pages, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = athena.get_query_results(QueryExecutionId=qid, MaxResults=10, **kwargs)
        pages.append([[d.get("VarCharValue") for d in r["Data"]] for r in page["ResultSet"]["Rows"]])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [10, 10, 6]  # header + 25 rows
    assert pages[0][0] == ["id", "city"]
    flat = [r for p in pages for r in p][1:]
    assert [r[0] for r in flat] == [str(i) for i in range(1, ROWS + 1)]
    assert flat[4] == ["5", None]  # null stays null
    info = page["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"]) for c in info] == [("id", "bigint"), ("city", "varchar")]
    with pytest.raises(athena.exceptions.InvalidRequestException):
        athena.get_query_results(QueryExecutionId=qid, MaxResults=1001)

    s3 = catalog.sb.client("s3")
    head = s3.head_object(Bucket=catalog.results, Key=f"athena/{qid}.csv")
    assert head["ServerSideEncryption"] == "AES256"
    body = s3.get_object(Bucket=catalog.results, Key=f"athena/{qid}.csv")["Body"].read().decode()
    lines = list(csv.reader(io.StringIO(body)))
    assert lines[0] == ["id", "city"] and len(lines) == ROWS + 1
    assert body.splitlines()[1] == '"1","City 1"'


def test_queries_cannot_read_files_around_the_catalog(catalog: Catalog) -> None:
    reason = catalog.failure("SELECT * FROM read_csv('/etc/passwd')", None)
    assert reason.startswith("FUNCTION_NOT_FOUND")
    assert catalog.failure("SELECT * FROM nosuchtable", None).startswith(
        f"TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.{catalog.db}.nosuchtable' does not exist"
    )


def test_lf_tags_are_assigned_per_key_and_reported_with_inheritance(
    catalog: Catalog, sandbox_server: SandboxServer
) -> None:
    lf = sandbox_server.client("lakeformation")
    table = {"DatabaseName": catalog.db, "Name": "customer"}
    out = lf.get_resource_lf_tags(Resource={"Table": table})
    assert {t["TagKey"]: t["TagValues"] for t in out["LFTagsOnTable"]} == {
        "zone": ["masked"],
        "sensitivity": ["public"],
    }
    columns = {c["Name"]: {t["TagKey"]: t["TagValues"] for t in c["LFTags"]} for c in out["LFTagsOnColumns"]}
    assert columns["email"] == {"zone": ["masked"], "sensitivity": ["pii"]}
    assert columns["city"] == {"zone": ["masked"], "sensitivity": ["public"]}

    # a second assignment adds a key; the table's own sensitivity stays
    lf.add_lf_tags_to_resource(Resource={"Table": table}, LFTags=[{"TagKey": "zone", "TagValues": ["masked"]}])
    assigned = lf.get_resource_lf_tags(Resource={"Table": table}, ShowAssignedLFTags=True)["LFTagsOnTable"]
    assert {t["TagKey"]: t["TagValues"] for t in assigned} == {"zone": ["masked"], "sensitivity": ["public"]}
    failures = lf.add_lf_tags_to_resource(
        Resource={"Table": table}, LFTags=[{"TagKey": "zone", "TagValues": ["nowhere"]}]
    )["Failures"]
    assert failures and failures[0]["Error"]["ErrorCode"] == "EntityNotFoundException"
