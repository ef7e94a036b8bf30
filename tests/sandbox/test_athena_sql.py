"""Athena's SQL in the sandbox: Trino queries give Athena's answers, value by value, with Athena's
types; Lake Formation's column limits hold through every way SQL can name a column; CTAS,
UNLOAD, DDL, parameters and prepared statements work as the clients use them; the access
gates around Athena's outputs and executions hold.

The expected answers are Athena engine version 3's (Trino's semantics and Athena's result format).
"""

from __future__ import annotations

import datetime as dt
import decimal
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from dcp.sandbox.inprocess import sandbox_in_process

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"
DB = "lake"
RESULTS = "athena-sql-results"
DATA = "athena-sql-data"


class Lake:
    """A Glue database with a CSV table (people) and a typed Parquet table, and two personas."""

    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.glue = boto3.client("glue", region_name="us-east-1")
        self.athena = boto3.client("athena", region_name="us-east-1")
        self.lf = boto3.client("lakeformation", region_name="us-east-1")
        self.iam = boto3.client("iam", region_name="us-east-1")
        for bucket in (RESULTS, DATA):
            self.s3.create_bucket(Bucket=bucket)
        self.glue.create_database(DatabaseInput={"Name": DB})
        self.glue.create_database(DatabaseInput={"Name": "other"})
        people = "id,name,email,city\n1,Ann,ann@example.com,Oslo\n2,Bob,bob@example.com,Rome\n3,Cid,cid@example.com,\n"
        self.s3.put_object(Bucket=DATA, Key="people/part-0.csv", Body=people.encode())
        self.table(
            "people",
            [("id", "bigint"), ("name", "string"), ("email", "string"), ("city", "string")],
            "people/",
            csv=True,
        )
        typed = pa.table(
            {
                "i": pa.array([7, None], pa.int32()),
                "d": pa.array([decimal.Decimal("12.50"), None], pa.decimal128(10, 2)),
                "arr": pa.array([[1, 2], None], pa.list_(pa.int32())),
                "m": pa.array([[("a", 1)], None], pa.map_(pa.string(), pa.int32())),
                "s": pa.array([{"x": 1, "y": "a"}, None], pa.struct([("x", pa.int32()), ("y", pa.string())])),
                "b": pa.array([b"\xab\xcd", None], pa.binary()),
                "ts": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5, 120000), None], pa.timestamp("ms")),
                "dt": pa.array([dt.date(2024, 1, 30), None], pa.date32()),
                "flag": pa.array([True, None], pa.bool_()),
                "j": pa.array(['{"a": {"b": 1}}', None], pa.string()),
            }
        )
        buf = io.BytesIO()
        pq.write_table(typed, buf)
        self.s3.put_object(Bucket=DATA, Key="typed/part-0.parquet", Body=buf.getvalue())
        self.table(
            "typed",
            [
                ("i", "int"),
                ("d", "decimal(10,2)"),
                ("arr", "array<int>"),
                ("m", "map<string,int>"),
                ("s", "struct<x:int,y:string>"),
                ("b", "binary"),
                ("ts", "timestamp"),
                ("dt", "date"),
                ("flag", "boolean"),
                ("j", "string"),
            ],
            "typed/",
            csv=False,
        )
        self.athena.create_work_group(
            Name="sqlwg",
            Configuration={
                "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/sqlwg/"},
                "EnforceWorkGroupConfiguration": True,
            },
        )
        self.athena.create_work_group(
            Name="otherwg",
            Configuration={
                "ResultConfiguration": {"OutputLocation": f"s3://{RESULTS}/otherwg/"},
                "EnforceWorkGroupConfiguration": False,
            },
        )
        # The analyst reads people without email; it may query workgroup sqlwg only.
        self.analyst = self.persona("analyst", "sqlwg")
        self.lf.grant_permissions(
            Principal={"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:role/analyst"},
            Resource={
                "TableWithColumns": {"DatabaseName": DB, "Name": "people", "ColumnNames": ["id", "name", "city"]}
            },
            Permissions=["SELECT"],
        )

    def table(self, name: str, columns: list[tuple[str, str]], prefix: str, *, csv: bool) -> None:
        if csv:
            storage: dict[str, Any] = {
                "SerdeInfo": {
                    "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
                    "Parameters": {"field.delim": ","},
                }
            }
            params = {"classification": "csv", "skip.header.line.count": "1"}
        else:
            storage = {
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}
            }
            params = {"classification": "parquet"}
        self.glue.create_table(
            DatabaseName=DB,
            TableInput={
                "Name": name,
                "Parameters": params,
                "StorageDescriptor": {
                    "Columns": [{"Name": c, "Type": t} for c, t in columns],
                    "Location": f"s3://{DATA}/{prefix}",
                    **storage,
                },
            },
        )

    def persona(self, name: str, workgroup: str, *, reads_data: bool = True) -> dict[str, Any]:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
            ],
        }
        self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": "athena:*",
                    "Resource": f"arn:aws:athena:us-east-1:{ACCOUNT}:workgroup/{workgroup}",
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": f"arn:aws:s3:::{RESULTS}/{workgroup}/*",
                },
                # The tables' location is not registered with Lake Formation: Athena reads it with
                # the caller's own S3 rights.
                *(
                    [
                        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{DATA}"},
                        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{DATA}/*"},
                    ]
                    if reads_data
                    else []
                ),
            ],
        }
        self.iam.put_role_policy(RoleName=name, PolicyName="q", PolicyDocument=json.dumps(policy))
        creds = boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName=name
        )["Credentials"]
        return {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    def client(self, credentials: dict[str, Any] | None) -> Any:
        return boto3.client("athena", region_name="us-east-1", **(credentials or {})) if credentials else self.athena

    def run(self, sql: str, credentials: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        athena = self.client(credentials)
        kwargs.setdefault("WorkGroup", "sqlwg")
        qid = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": DB}, **kwargs)[
            "QueryExecutionId"
        ]
        deadline = time.monotonic() + 60
        while True:
            q = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
            if q["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                return dict(q)
            assert time.monotonic() < deadline, "query did not finish"
            time.sleep(0.02)

    def result(self, sql: str, credentials: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        q = self.run(sql, credentials, **kwargs)
        assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
        return dict(self.client(credentials).get_query_results(QueryExecutionId=q["QueryExecutionId"]))

    def values(self, sql: str, credentials: dict[str, Any] | None = None, **kwargs: Any) -> list[list[str | None]]:
        """Result rows (header row first for a query) as Athena's strings, None for NULL."""
        rows = self.result(sql, credentials, **kwargs)["ResultSet"]["Rows"]
        return [[d.get("VarCharValue") for d in r["Data"]] for r in rows]

    def failure(self, sql: str, credentials: dict[str, Any] | None = None, **kwargs: Any) -> str:
        q = self.run(sql, credentials, **kwargs)
        assert q["Status"]["State"] == "FAILED", f"{sql} succeeded"
        return str(q["Status"]["StateChangeReason"])


@pytest.fixture(scope="module")
def lake() -> Iterator[Lake]:
    with sandbox_in_process():
        yield Lake()


# --------------------------------------------------------------------------- semantics and functions

SCALARS = [
    ("SELECT 7/2", "3"),
    ("SELECT -7/2", "-3"),
    ("SELECT 7.0/2", "3.5"),
    ("SELECT 7 % 3", "1"),
    ("SELECT format('%s-%s', 'a', 'b')", "a-b"),
    ("SELECT format('%d items', 3)", "3 items"),
    ("SELECT date_format(TIMESTAMP '2024-01-02 03:04:05', '%Y-%m-%d %H:%i:%s')", "2024-01-02 03:04:05"),
    ("SELECT date_add('day', 3, DATE '2024-01-30')", "2024-02-02"),
    ("SELECT date_add('month', 1, DATE '2024-01-31')", "2024-02-29"),
    ("SELECT date_diff('day', DATE '2024-01-01', DATE '2024-03-01')", "60"),
    ("SELECT regexp_like('abc', 'b.')", "true"),
    ("SELECT json_extract_scalar('{\"a\": {\"b\": 1}}', '$.a.b')", "1"),
    ("SELECT approx_distinct(x) FROM (VALUES 1, 2, 2, 3) AS t(x)", "3"),
    ("SELECT approx_percentile(x, 0.5) FROM (VALUES 1, 2, 3) AS t(x)", "2"),
    ("SELECT from_iso8601_timestamp('2024-01-02T03:04:05Z')", "2024-01-02 03:04:05.000 UTC"),
    ("SELECT to_utf8('ab')", "61 62"),
    ("SELECT element_at(ARRAY[1, 2, 3], 2)", "2"),
    ("SELECT element_at(MAP(ARRAY['a'], ARRAY[1]), 'a')", "1"),
    ("SELECT cardinality(ARRAY[1, 2])", "2"),
    ("SELECT array_join(ARRAY['a', 'b'], ',')", "a,b"),
    ("SELECT split('a,b', ',')", "[a, b]"),
    ("SELECT substr('abcdef', 2, 3)", "bcd"),
    ("SELECT strpos('abc', 'c')", "3"),
    ("SELECT concat('a', 'b', 'c')", "abc"),
    ("SELECT try_cast('x' AS integer)", None),
    ("SELECT CAST(1.5 AS decimal(10, 2))", "1.50"),
    ("SELECT 1 -- a comment", "1"),
    ("SELECT 1;", "1"),
    ("SELECT true AND false", "false"),
    ("SELECT ARRAY[1, 2]", "[1, 2]"),
    ("SELECT MAP(ARRAY['a', 'b'], ARRAY[1, 2])", "{a=1, b=2}"),
    ("SELECT CAST(ROW(1, 'a') AS ROW(x integer, y varchar))", "{x=1, y=a}"),
    ("SELECT X'abcd'", "ab cd"),
    ("SELECT TIMESTAMP '2024-01-02 03:04:05.120'", "2024-01-02 03:04:05.120"),
    ("SELECT DATE '2024-01-02'", "2024-01-02"),
    ("SELECT CAST(NULL AS varchar)", None),
]


@pytest.mark.parametrize(("sql", "expected"), SCALARS, ids=[s for s, _ in SCALARS])
def test_functions_and_semantics_give_athenas_answer(lake: Lake, sql: str, expected: str | None) -> None:
    assert lake.values(sql)[1] == [expected]


def test_unnest_tablesample_and_path(lake: Lake) -> None:
    assert lake.values("SELECT v FROM UNNEST(ARRAY[1, 2]) AS t(v) ORDER BY v")[1:] == [["1"], ["2"]]
    assert lake.values("SELECT id, v FROM people CROSS JOIN UNNEST(ARRAY[10]) AS t(v) WHERE id = 1") == [
        ["id", "v"],
        ["1", "10"],
    ]
    assert lake.values("SELECT count(*) FROM people TABLESAMPLE BERNOULLI (100)")[1] == ["3"]
    assert lake.values('SELECT DISTINCT "$path" FROM people')[1] == [f"s3://{DATA}/people/part-0.csv"]


def test_result_types_and_values_are_athenas(lake: Lake) -> None:
    out = lake.result("SELECT i, d, arr, m, s, b, ts, dt, flag, i / 2 AS half FROM typed ORDER BY i NULLS LAST")
    info = out["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]
    assert [(c["Name"], c["Type"]) for c in info] == [
        ("i", "integer"),
        ("d", "decimal"),
        ("arr", "array"),
        ("m", "map"),
        ("s", "row"),
        ("b", "varbinary"),
        ("ts", "timestamp"),
        ("dt", "date"),
        ("flag", "boolean"),
        ("half", "integer"),
    ]
    assert (info[1]["Precision"], info[1]["Scale"]) == (10, 2)
    rows = [[d.get("VarCharValue") for d in r["Data"]] for r in out["ResultSet"]["Rows"]]
    assert rows[1] == [
        "7",
        "12.50",
        "[1, 2]",
        "{a=1}",
        "{x=1, y=a}",
        "ab cd",
        "2024-01-02 03:04:05.120",
        "2024-01-30",
        "true",
        "3",
    ]
    assert rows[2] == [None] * 10
    assert out["ResultSet"]["Rows"][2]["Data"][0] == {}  # NULL: no VarCharValue


def test_csv_result_object_matches_get_query_results(lake: Lake) -> None:
    q = lake.run("SELECT i, arr, m, b, ts FROM typed ORDER BY i NULLS LAST")
    bucket, key = q["ResultConfiguration"]["OutputLocation"][5:].split("/", 1)
    body = lake.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert body.splitlines() == [
        '"i","arr","m","b","ts"',
        '"7","[1, 2]","{a=1}","ab cd","2024-01-02 03:04:05.120"',
        ",,,,",
    ]


def test_aliases_joins_ctes_and_using(lake: Lake) -> None:
    assert lake.values("SELECT k.name FROM people k WHERE k.id = 2") == [["name"], ["Bob"]]
    assert lake.values("SELECT a.id, b.name FROM people a JOIN people b USING (id) WHERE a.id = 1") == [
        ["id", "name"],
        ["1", "Ann"],
    ]
    assert lake.values("WITH c AS (SELECT id AS n FROM people) SELECT max(n) AS top FROM c") == [["top"], ["3"]]
    assert lake.values("SELECT count(*), max(id) FROM people") == [["_col0", "_col1"], ["3", "3"]]
    assert lake.values("SELECT city FROM people WHERE id = 3") == [["city"], [None]]


def test_two_statements_are_refused_as_athena_does(lake: Lake) -> None:
    with pytest.raises(ClientError) as err:
        lake.athena.start_query_execution(QueryString="SELECT 1; SELECT 2", WorkGroup="sqlwg")
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "Only one sql statement is allowed" in err.value.response["Error"]["Message"]


# --------------------------------------------------------------------------- Lake Formation through SQL

HIDDEN = [
    "SELECT email FROM people",
    "SELECT p.email FROM people p",
    "SELECT x.e FROM (SELECT email AS e FROM people) x",
    "WITH c AS (SELECT email FROM people) SELECT * FROM c",
    "SELECT a.id FROM people a JOIN people b USING (email)",
    "SELECT id FROM people WHERE email LIKE 'a%'",
    "SELECT count(DISTINCT email) FROM people",
    "SELECT id FROM people ORDER BY email",
    "SELECT id FROM people GROUP BY id, email",
    "SELECT id, v FROM people CROSS JOIN UNNEST(ARRAY[email]) AS t(v)",
    "SELECT id FROM people WHERE id IN (SELECT id FROM people WHERE email IS NOT NULL)",
    "SELECT max(length(email)) OVER () FROM people",
]


@pytest.mark.parametrize("sql", HIDDEN)
def test_a_hidden_column_cannot_be_read_through_any_name(lake: Lake, sql: str) -> None:
    assert lake.failure(sql, lake.analyst).startswith("COLUMN_NOT_FOUND")


def test_star_returns_only_granted_columns(lake: Lake) -> None:
    rows = lake.values("SELECT * FROM people ORDER BY id", lake.analyst)
    assert rows[0] == ["id", "name", "city"]
    assert all("@" not in (v or "") for row in rows for v in row)
    assert lake.values("SELECT * FROM people p JOIN people q USING (id) WHERE id = 1", lake.analyst)[0] == [
        "id",
        "name",
        "city",
        "name",
        "city",
    ]


FILES = [
    ("SELECT * FROM read_csv('/etc/passwd')", "FUNCTION_NOT_FOUND"),
    ("SELECT * FROM read_parquet('x.parquet')", "FUNCTION_NOT_FOUND"),
    ("SELECT * FROM '/etc/passwd'", "TABLE_NOT_FOUND"),
    ('SELECT * FROM "/tmp/x.csv"', "TABLE_NOT_FOUND"),
    ("SELECT * FROM glob('*')", "SYNTAX_ERROR"),
    ("COPY people TO '/tmp/out.csv'", "NOT_SUPPORTED"),
    ("ATTACH '/tmp/x.db' AS x", "SYNTAX_ERROR"),
    ("INSTALL httpfs", "NOT_SUPPORTED"),
    ("PRAGMA version", "NOT_SUPPORTED"),
    ("SET memory_limit = '8GB'", "NOT_SUPPORTED"),
    ("SELECT current_setting('memory_limit')", "FUNCTION_NOT_FOUND"),
    ("SELECT * FROM other_catalog.lake.people", "CATALOG_NOT_FOUND"),
]


@pytest.mark.parametrize(("sql", "error"), FILES, ids=[s for s, _ in FILES])
def test_no_sql_reads_files_or_changes_the_engine(lake: Lake, sql: str, error: str) -> None:
    assert lake.failure(sql, lake.analyst).startswith(error)


# --------------------------------------------------------------------------- catalog statements


def test_show_and_describe_answer_from_glue(lake: Lake) -> None:
    databases = lake.values("SHOW DATABASES")
    assert ["lake"] in databases and ["other"] in databases and ["memory"] not in databases
    assert ["memory"] not in lake.values("SHOW SCHEMAS")
    assert lake.values("SHOW TABLES") == [["people"], ["typed"]]
    assert lake.values(f"SHOW TABLES IN {DB} 'peo*'") == [["people"]]
    assert lake.values("SHOW TABLES", lake.analyst) == [["people"]]  # typed is not granted
    assert lake.values("SHOW COLUMNS IN people", lake.analyst) == [["id"], ["name"], ["city"]]
    described = lake.values("DESCRIBE people")
    assert [r[0].split("\t")[0].strip() for r in described] == ["id", "name", "email", "city"]
    ddl = "\n".join(r[0] or "" for r in lake.values("SHOW CREATE TABLE people"))
    assert ddl.startswith("CREATE EXTERNAL TABLE `lake`.`people`(") and f"'s3://{DATA}/people/'" in ddl
    q = lake.run("SHOW TABLES")
    assert q["StatementType"] == "UTILITY" and q["ResultConfiguration"]["OutputLocation"].endswith(".txt")


def test_create_external_table_msck_and_drop(lake: Lake) -> None:
    lake.s3.put_object(Bucket=DATA, Key="events/dt=2024-01-01/a.csv", Body=b"1,x\n")
    lake.s3.put_object(Bucket=DATA, Key="events/dt=2024-01-02/b.csv", Body=b"2,y\n")
    ddl = (
        "CREATE EXTERNAL TABLE IF NOT EXISTS `lake`.`events` (`n` int, `tag` string) PARTITIONED BY (dt string) "
        f"ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' LOCATION 's3://{DATA}/events/'"
    )
    assert lake.run(ddl)["Status"]["State"] == "SUCCEEDED"
    assert lake.values("SELECT n, tag, dt FROM events ORDER BY n")[1:] == [
        ["1", "x", "2024-01-01"],
        ["2", "y", "2024-01-02"],
    ]
    repaired = lake.values("MSCK REPAIR TABLE events")
    assert any("dt=2024-01-02" in (r[0] or "") for r in repaired)
    assert len(lake.glue.get_partitions(DatabaseName=DB, TableName="events")["Partitions"]) == 2
    assert lake.failure("DROP TABLE events", lake.analyst).startswith("Insufficient Lake Formation permission")
    assert lake.run("DROP TABLE events")["Status"]["State"] == "SUCCEEDED"
    assert lake.run("DROP TABLE IF EXISTS events")["Status"]["State"] == "SUCCEEDED"
    with pytest.raises(ClientError):
        lake.glue.get_table(DatabaseName=DB, Name="events")


# --------------------------------------------------------------------------- CTAS, UNLOAD


def _parquet(lake: Lake, uri: str) -> pa.Table:
    bucket, key = uri[5:].split("/", 1)
    return pq.read_table(io.BytesIO(lake.s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def test_ctas_as_awswrangler_writes_it(lake: Lake) -> None:
    sql = (
        "CREATE TABLE \"lake\".\"temp_ctas_1\" WITH (format = 'PARQUET', parquet_compression = 'SNAPPY', "
        f"external_location = 's3://{RESULTS}/sqlwg/temp_ctas_1') AS SELECT id, upper(name) AS who FROM people"
    )
    q = lake.run(sql)
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
    assert q["StatementType"] == "DDL"
    manifest = q["Statistics"]["DataManifestLocation"]
    bucket, key = manifest[5:].split("/", 1)
    files = lake.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()
    assert len(files) == 1 and files[0].startswith(f"s3://{RESULTS}/sqlwg/temp_ctas_1/")
    assert sorted(_parquet(lake, files[0]).to_pylist(), key=lambda r: r["id"])[0] == {"id": 1, "who": "ANN"}
    table = lake.glue.get_table(DatabaseName=DB, Name="temp_ctas_1")["Table"]
    assert [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]] == [
        ("id", "bigint"),
        ("who", "string"),
    ]
    assert lake.values("SELECT who FROM temp_ctas_1 WHERE id = 2") == [["who"], ["BOB"]]
    assert lake.failure(sql).startswith("TABLE_ALREADY_EXISTS")
    assert lake.run('DROP TABLE "lake"."temp_ctas_1"')["Status"]["State"] == "SUCCEEDED"
    empty = "CREATE TABLE lake.schema_only WITH (format = 'PARQUET') AS SELECT id, name FROM people WITH NO DATA"
    assert lake.run(empty)["Status"]["State"] == "SUCCEEDED"
    assert lake.values("SELECT count(*) AS n FROM schema_only") == [["n"], ["0"]]
    columns = lake.glue.get_table(DatabaseName=DB, Name="schema_only")["Table"]["StorageDescriptor"]["Columns"]
    assert [c["Name"] for c in columns] == ["id", "name"]


def test_ctas_needs_create_table_and_respects_columns(lake: Lake) -> None:
    sql = "CREATE TABLE lake.mine AS SELECT id FROM people"
    assert lake.failure(sql, lake.analyst).startswith("Insufficient Lake Formation permission(s) on lake")
    lake.lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:role/analyst"},
        Resource={"Database": {"Name": DB}},
        Permissions=["CREATE_TABLE"],
    )
    assert lake.failure("CREATE TABLE lake.leak AS SELECT email FROM people", lake.analyst).startswith(
        "COLUMN_NOT_FOUND"
    )
    q = lake.run(sql, lake.analyst)
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
    location = lake.glue.get_table(DatabaseName=DB, Name="mine")["Table"]["StorageDescriptor"]["Location"]
    assert location == f"s3://{RESULTS}/sqlwg/tables/{q['QueryExecutionId']}/"  # Athena's default CTAS location


def test_unload_as_pyathena_writes_it(lake: Lake) -> None:
    target = f"s3://{RESULTS}/sqlwg/unload/u1/"
    q = lake.run(
        f"UNLOAD (SELECT id, name FROM people WHERE id < 3) TO '{target}' "
        "WITH (format = 'PARQUET', compression = 'SNAPPY')"
    )
    assert q["Status"]["State"] == "SUCCEEDED", q["Status"].get("StateChangeReason")
    bucket, key = q["Statistics"]["DataManifestLocation"][5:].split("/", 1)
    files = lake.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().split()
    assert sorted(r["id"] for f in files for r in _parquet(lake, f).to_pylist()) == [1, 2]
    again = lake.failure(f"UNLOAD (SELECT 1) TO '{target}' WITH (format = 'PARQUET')")
    assert again.startswith("HIVE_PATH_ALREADY_EXISTS")


# --------------------------------------------------------------------------- parameters, prepared statements


def test_execution_parameters_bind_question_marks(lake: Lake) -> None:
    rows = lake.values("SELECT name FROM people WHERE id = ? AND city = ?", ExecutionParameters=["2", "'Rome'"])
    assert rows == [["name"], ["Bob"]]
    assert lake.failure("SELECT ? + ?", ExecutionParameters=["1"]).startswith("INVALID_PARAMETER_USAGE")
    assert lake.failure("SELECT ?", ExecutionParameters=["(SELECT email FROM people LIMIT 1)"]).startswith(
        "INVALID_PARAMETER"
    )


def test_prepared_statements(lake: Lake) -> None:
    athena = lake.athena
    athena.create_prepared_statement(
        StatementName="by_id", WorkGroup="sqlwg", QueryStatement="SELECT name FROM people WHERE id = ?"
    )
    got = athena.get_prepared_statement(StatementName="by_id", WorkGroup="sqlwg")["PreparedStatement"]
    assert got["QueryStatement"] == "SELECT name FROM people WHERE id = ?" and got["WorkGroupName"] == "sqlwg"
    names = [p["StatementName"] for p in athena.list_prepared_statements(WorkGroup="sqlwg")["PreparedStatements"]]
    assert names == ["by_id"]
    assert lake.values("EXECUTE by_id USING 3") == [["name"], ["Cid"]]
    assert lake.values("EXECUTE by_id", ExecutionParameters=["1"]) == [["name"], ["Ann"]]
    athena.delete_prepared_statement(StatementName="by_id", WorkGroup="sqlwg")
    assert lake.failure("EXECUTE by_id USING 3").startswith("PREPARED_STATEMENT_NOT_FOUND")
    with pytest.raises(ClientError):
        athena.get_prepared_statement(StatementName="by_id", WorkGroup="sqlwg")


# --------------------------------------------------------------------------- gates


def test_workgroup_enforcement_decides_the_output_location(lake: Lake) -> None:
    elsewhere = {"OutputLocation": f"s3://{RESULTS}/mine/"}
    q = lake.run("SELECT 1", ResultConfiguration=elsewhere)
    assert q["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{RESULTS}/sqlwg/")
    q = lake.run("SELECT 1", WorkGroup="otherwg", ResultConfiguration=elsewhere)
    assert q["Status"]["State"] == "SUCCEEDED"
    assert q["ResultConfiguration"]["OutputLocation"].startswith(f"s3://{RESULTS}/mine/")  # not enforced


def test_output_inside_a_table_folder_is_refused(lake: Lake) -> None:
    with pytest.raises(ClientError) as err:
        lake.athena.start_query_execution(
            QueryString="SELECT 1",
            WorkGroup="otherwg",
            ResultConfiguration={"OutputLocation": f"s3://{DATA}/people/results/"},
        )
    assert err.value.response["Error"]["Code"] == "InvalidRequestException"
    assert lake.failure(f"UNLOAD (SELECT 1 AS x) TO 's3://{DATA}/people/u/' WITH (format = 'PARQUET')").startswith(
        "The output location"
    )
    assert lake.s3.list_objects_v2(Bucket=DATA, Prefix="people/")["KeyCount"] == 1


def test_output_needs_put_object(lake: Lake) -> None:
    reason = lake.failure(f"UNLOAD (SELECT 1 AS x) TO 's3://{DATA}/elsewhere/' WITH (format = 'PARQUET')", lake.analyst)
    assert reason.startswith("Access denied when writing output to url")


def test_no_persona_reads_another_workgroups_executions(lake: Lake) -> None:
    q = lake.run("SELECT 1", WorkGroup="otherwg")
    analyst = lake.client(lake.analyst)
    for call in (
        lambda: analyst.get_query_results(QueryExecutionId=q["QueryExecutionId"]),
        lambda: analyst.get_query_execution(QueryExecutionId=q["QueryExecutionId"]),
        lambda: analyst.list_query_executions(WorkGroup="otherwg"),
        lambda: analyst.stop_query_execution(QueryExecutionId=q["QueryExecutionId"]),
    ):
        with pytest.raises(ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "AccessDeniedException"
    mine = lake.run("SELECT 1", lake.analyst)
    assert mine["QueryExecutionId"] in analyst.list_query_executions(WorkGroup="sqlwg")["QueryExecutionIds"]


def test_stop_interrupts_a_running_query(lake: Lake) -> None:
    slow = "SELECT count(*) FROM UNNEST(sequence(1, 100000)) a(x) CROSS JOIN UNNEST(sequence(1, 100000)) b(y)"
    qid = lake.athena.start_query_execution(QueryString=slow, WorkGroup="sqlwg")["QueryExecutionId"]
    deadline = time.monotonic() + 20
    while lake.athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"] == "QUEUED":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    lake.athena.stop_query_execution(QueryExecutionId=qid)
    while (state := lake.athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]["State"]) in (
        "QUEUED",
        "RUNNING",
    ):
        assert time.monotonic() < deadline, "the query was not interrupted"
        time.sleep(0.05)
    assert state == "CANCELLED"


def test_an_unregistered_location_is_read_with_the_callers_own_s3_rights(lake: Lake) -> None:
    """LF grants alone do not open an unregistered location: the caller needs s3:GetObject too."""
    creds = lake.persona("no-s3-reader", "sqlwg", reads_data=False)
    lf = boto3.client("lakeformation", region_name="us-east-1")
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT}:role/no-s3-reader"},
        Resource={"Table": {"DatabaseName": DB, "Name": "people"}},
        Permissions=["SELECT"],
    )
    reason = lake.failure("SELECT id FROM people", creds)
    assert reason.startswith("Permission denied on S3 path") and "s3:ListBucket" in reason
