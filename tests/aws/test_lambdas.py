"""The two Lambda handlers and their packaging."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import create_engine

from dcp.lambdas import package, seed, start_workflow
from dcp.lambdas.dburl import connect_args, sqlalchemy_url
from tests.aws.aws_account import Env


def test_sqlalchemy_url_per_engine() -> None:
    base = {"username": "u", "password": "p@ss/w", "host": "db.example", "port": 3306, "dbname": "dataset"}
    assert sqlalchemy_url({**base, "engine": "mysql"}) == "mysql+pymysql://u:p%40ss%2Fw@db.example:3306/dataset"
    assert sqlalchemy_url({**base, "engine": "postgres", "port": 5432}).startswith("postgresql+pg8000://u:")
    assert sqlalchemy_url({"engine": "mysql", "host": "/tmp/x/source.db"}) == "sqlite:////tmp/x/source.db"
    with pytest.raises(ValueError, match="unsupported"):
        sqlalchemy_url({**base, "engine": "oracle"})


def test_postgres_beyond_loopback_connects_with_tls() -> None:
    # RDS for PostgreSQL 15+ refuses unencrypted connections (rds.force_ssl=1).
    assert "ssl_context" in connect_args({"engine": "postgres", "host": "db.abc.us-east-1.rds.amazonaws.com"})
    assert connect_args({"engine": "postgres", "host": "127.0.0.1"}) == {}
    assert connect_args({"engine": "mysql", "host": "db.example"}) == {}


SEED_IN_ZIP_ONLY = """
import json, sys
sys.path[:0] = [sys.argv[1]]
import seed, dburl, sqlalchemy
assert sqlalchemy.__file__.startswith(sys.argv[1]), sqlalchemy.__file__
secret = json.loads(sys.argv[2])
engine = sqlalchemy.create_engine(dburl.sqlalchemy_url(secret), connect_args=dburl.connect_args(secret))
table = sys.argv[3]
seed.handle({"table": table, "columns": ["id", "name"], "mode": "create"}, engine)
seed.handle({"table": table, "columns": ["id", "name"], "rows": [[1, "a"], [2, "b"]], "mode": "insert"}, engine)
print(json.dumps(seed.handle({"table": table, "mode": "count"}, engine)))
with engine.begin() as conn:
    conn.exec_driver_sql(f"drop table {secret['dbname']}.{table}")
"""


@pytest.mark.db
def test_seed_zip_alone_seeds_postgresql(tmp_path: Path) -> None:
    """The zip carries a pure-Python PostgreSQL driver: run the handler with nothing but the zip
    (no site-packages), against the local PostgreSQL, as Lambda would run it."""
    import json
    import subprocess
    import sys
    import uuid

    pytest.importorskip("pg8000")
    with zipfile.ZipFile(io.BytesIO(package.seed_zip())) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "code")
    assert {"pg8000/__init__.py", "scramp/__init__.py", "pymysql/__init__.py"} <= names
    secret = {"engine": "postgres", "host": "127.0.0.1", "port": 5432, "username": "postgres", "dbname": "test"}
    table = f"seedzip_{uuid.uuid4().hex[:8]}"
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-c", SEED_IN_ZIP_ONLY, str(tmp_path / "code"), json.dumps(secret), table],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the seed handler did not finish")
    if "Connection refused" in done.stderr:
        pytest.skip("no PostgreSQL on 127.0.0.1:5432")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"table": table, "count": 2}


def test_seed_creates_inserts_upserts_counts_and_deletes(tmp_path: Path) -> None:
    engine = create_engine(sqlalchemy_url({"engine": "mysql", "host": str(tmp_path / "source.db")}))
    cols = ["id", "name", "email"]
    assert seed.handle({"table": "customer", "columns": cols, "mode": "create"}, engine)["count"] == 0
    rows = [[i, f"n{i}", f"e{i}@x.org"] for i in range(1, 6)]
    assert seed.handle({"table": "customer", "columns": cols, "rows": rows, "mode": "insert"}, engine) == {
        "table": "customer",
        "inserted": 5,
    }
    upsert = [[5, "changed", "c@x.org"], [6, "new", "n@x.org"]]
    assert (
        seed.handle({"table": "customer", "columns": cols, "rows": upsert, "mode": "upsert"}, engine)["upserted"] == 2
    )
    assert seed.handle({"table": "customer", "mode": "count"}, engine)["count"] == 6
    deleted = seed.handle({"table": "customer", "columns": ["id"], "rows": [[1], [2]], "mode": "delete"}, engine)
    assert deleted["deleted"] == 2
    assert seed.handle({"table": "customer", "mode": "select_ids"}, engine)["ids"] == [3, 4, 5, 6]
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select name from customer where id = 5").scalar_one() == "changed"
    with pytest.raises(ValueError, match="invalid identifier"):
        seed.handle({"table": "x; drop table customer", "mode": "count"}, engine)


def test_start_workflow_starts_a_run_for_an_s3_event(aws_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    # (The ConcurrentRunsExceededException branch is not exercised: neither moto nor the sandbox
    # enforces a workflow's MaxConcurrentRuns.)
    glue = boto3.client("glue", region_name="us-east-1")
    glue.create_workflow(Name="wf", MaxConcurrentRuns=1)
    monkeypatch.setenv("WORKFLOW_NAME", "wf")
    event = {"Records": [{"s3": {"bucket": {"name": "findings"}, "object": {"key": "findings/2026/x"}}}]}
    first = start_workflow.handler(event, None, glue=glue)
    assert first["started"] is True and first["objects"] == ["findings/findings/2026/x"]
    assert glue.get_workflow_run(Name="wf", RunId=first["run_id"])["Run"]["Status"] == "RUNNING"
    assert start_workflow.handler({}, None, glue=glue)["objects"] == []


def test_lambda_zips_are_reproducible_and_hold_handler_dburl_and_libraries() -> None:
    assert package.build_zip("start_workflow") == package.workflow_zip()
    names = zipfile.ZipFile(io.BytesIO(package.workflow_zip())).namelist()
    assert names == ["start_workflow.py", "dburl.py"]
    seed_names = set(zipfile.ZipFile(io.BytesIO(package.seed_zip())).namelist())
    assert {"seed.py", "dburl.py", "dcp_errors.py", "pymysql/__init__.py", "sqlalchemy/__init__.py"} <= seed_names
    assert not any(n.endswith(".so") for n in seed_names)
    assert len(package.code_sha256(package.seed_zip())) == 44


class _Context:
    """Lambda's context object: only the remaining time matters here."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)


ARRIVED = "2026-11-30T12:00:00Z"
OBJECT_EVENT = {"Records": [{"eventTime": ARRIVED, "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}


def _glue(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real glue client whose answers a botocore Stubber gives (neither moto nor the sandbox
    enforces a workflow's MaxConcurrentRuns)."""
    monkeypatch.setenv("WORKFLOW_NAME", "wf")
    return boto3.client("glue", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


def _runs(run_id: str, minutes_after_arrival: float) -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    started = datetime(2026, 11, 30, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes_after_arrival)
    return {"Runs": [{"WorkflowRunId": run_id, "StartedOn": started, "Status": "RUNNING"}]}


def _busy(stub: Any) -> None:
    stub.add_client_error(
        "start_workflow_run", "ConcurrentRunsExceededException", "Concurrent runs exceeded for workflow: wf"
    )


def test_findings_arriving_during_a_run_start_the_next_run_when_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy workflow is not the end of the object: the handler waits and starts the next run."""
    from botocore.stub import Stubber

    glue = _glue(monkeypatch)
    with Stubber(glue) as stub:
        for _ in range(2):
            _busy(stub)
            stub.add_response("get_workflow_runs", _runs("run-1", -3))
        stub.add_response("start_workflow_run", {"RunId": "run-2"})
        result = start_workflow.handler(OBJECT_EVENT, _Context(60), glue=glue, poll_seconds=0.01)
        stub.assert_no_pending_responses()
    assert result == {"started": True, "run_id": "run-2", "workflow": "wf", "objects": ["b/k"]}


def test_a_run_started_after_the_object_arrived_covers_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    glue = _glue(monkeypatch)
    with Stubber(glue) as stub:
        _busy(stub)
        stub.add_response("get_workflow_runs", _runs("run-9", 0.1))
        result = start_workflow.handler(OBJECT_EVENT, _Context(60), glue=glue, poll_seconds=0.01)
    assert result["started"] is False and result["covered_by"] == "run-9"


def test_a_workflow_busy_for_the_whole_invocation_fails_so_lambda_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.stub import Stubber

    glue = _glue(monkeypatch)
    with Stubber(glue) as stub:
        _busy(stub)
        stub.add_response("get_workflow_runs", _runs("run-1", -60))
        # 10.5 s left: the 10 s margin leaves no time for another poll.
        with pytest.raises(start_workflow.WorkflowBusy, match="retrying 1 object"):
            start_workflow.handler(OBJECT_EVENT, _Context(10.5), glue=glue, poll_seconds=1.0)


@pytest.mark.db
def test_create_sets_binlog_retention_through_the_rds_procedure(monkeypatch: pytest.MonkeyPatch) -> None:
    """On RDS for MySQL the seed Lambda keeps binlogs 24 hours for DMS (mysql.rds_set_configuration).
    MariaDB here stands in for RDS: the procedure lives in a throwaway schema that records its calls."""
    import uuid

    pytest.importorskip("pymysql")
    schema = f"rdscfg_{uuid.uuid4().hex[:8]}"
    admin = create_engine("mysql+pymysql://root@127.0.0.1:3306/test")
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"create database {schema}")
            conn.exec_driver_sql(f"create table {schema}.calls (name varchar(64), value varchar(64))")
            conn.exec_driver_sql(
                f"create procedure {schema}.rds_set_configuration(in n varchar(64), in v int) "
                f"insert into {schema}.calls values (n, v)"
            )
    except Exception as exc:
        pytest.skip(f"no MariaDB on 127.0.0.1:3306: {type(exc).__name__}")
    try:
        engine = create_engine(f"mysql+pymysql://root@127.0.0.1:3306/{schema}")
        # Without the procedure (a MySQL outside RDS) nothing is set and nothing fails.
        assert (
            seed.handle({"table": "t1", "columns": ["id", "v"], "mode": "create"}, engine)["binlog_retention_hours"]
            is None
        )
        monkeypatch.setattr(seed, "RDS_CONFIGURATION_PROCEDURE", (schema, "rds_set_configuration"))
        body = seed.handle({"table": "t1", "columns": ["id", "v"], "mode": "create"}, engine)
        assert body["binlog_retention_hours"] == 24
        with engine.connect() as conn:
            assert conn.exec_driver_sql(f"select name, value from {schema}.calls").all() == [
                ("binlog retention hours", "24")
            ]
        engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"drop database {schema}")
        admin.dispose()
