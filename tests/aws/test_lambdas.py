"""The two Lambda handlers and their packaging."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import boto3
import pytest
from aws_account import Env
from sqlalchemy import create_engine

from dcp.lambdas import package, seed, start_workflow
from dcp.lambdas.dburl import sqlalchemy_url


def test_sqlalchemy_url_per_engine() -> None:
    base = {"username": "u", "password": "p@ss/w", "host": "db.example", "port": 3306, "dbname": "dataset"}
    assert sqlalchemy_url({**base, "engine": "mysql"}) == "mysql+pymysql://u:p%40ss%2Fw@db.example:3306/dataset"
    assert sqlalchemy_url({**base, "engine": "postgres", "port": 5432}).startswith("postgresql+psycopg://u:")
    assert sqlalchemy_url({"engine": "mysql", "host": "/tmp/x/source.db"}) == "sqlite:////tmp/x/source.db"
    with pytest.raises(ValueError, match="unsupported"):
        sqlalchemy_url({**base, "engine": "oracle"})


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
