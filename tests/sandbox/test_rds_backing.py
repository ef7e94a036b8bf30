"""A sandbox RDS instance on a real server takes any master password RDS takes.

RDS allows every printable ASCII character in MasterUserPassword but / " @ and space, and dcp's own
secret comes from GetRandomPassword with only those excluded, so `:name` (SQLAlchemy's bind
parameter syntax) and `%` (pyformat drivers' format) turn up in about one stack in four.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dcp.lambdas.dburl import sqlalchemy_url
from dcp.sandbox.emulators.rds.models import RdsBackings
from tests.e2e.conftest import require_server

SERVERS = {
    "postgres": ("127.0.0.1", 5432, "postgresql+psycopg://postgres@127.0.0.1:5432/test", "PostgreSQL"),
    "mysql": ("127.0.0.1", 3306, "mysql+pymysql://root@127.0.0.1:3306/test", "MariaDB"),
}
# Every punctuation mark GetRandomPassword may return once dcp's ExcludeCharacters are removed.
PASSWORD = "Ab1:name%s%%:x!#$&()*+,-.;<=>?[]^_{|}~"


@pytest.mark.db
@pytest.mark.parametrize("engine", sorted(SERVERS))
def test_master_password_with_bind_and_format_characters(tmp_path: Path, engine: str) -> None:
    host, port, url, what = SERVERS[engine]
    require_server(host, port, what)
    own = uuid.uuid4().hex[:8]
    backings = RdsBackings()
    store = backings.provision(
        instance_id=f"pw-{own}",
        hostname=f"pw-{own}.example",
        db_name=f"pw_{own}",
        username=f"pw_{own}",
        password=PASSWORD,
        state_dir=tmp_path,
        source_url=url,
    )
    try:
        secret = {
            "engine": engine,
            "host": store.address,
            "port": store.port,
            "dbname": store.database,
            "username": f"pw_{own}",
            "password": PASSWORD,
        }
        login = create_engine(sqlalchemy_url(secret))
        try:
            with login.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        finally:
            login.dispose()
    finally:
        backings.remove(f"pw-{own}")


@pytest.mark.slow
def test_an_instance_the_sandbox_cannot_back_fails_with_an_event(tmp_path: Path) -> None:
    """RDS reports why an instance failed only as an event: the sandbox does the same."""
    import boto3

    from dcp.sandbox.inprocess import sandbox_in_process

    with sandbox_in_process(tmp_path, source_url=f"sqlite:///{tmp_path}/not-a-server.db"):
        rds = boto3.client("rds", region_name="us-east-1")
        rds.create_db_instance(
            DBInstanceIdentifier="cannot-back",
            DBInstanceClass="db.t3.micro",
            Engine="mysql",
            AllocatedStorage=20,
            MasterUsername="admin",
            MasterUserPassword="not-a-real-pass-1",
            DBName="dataset",
        )
        described = rds.describe_db_instances(DBInstanceIdentifier="cannot-back")["DBInstances"][0]
        assert described["DBInstanceStatus"] == "failed"
        events = rds.describe_events(SourceType="db-instance", SourceIdentifier="cannot-back")["Events"]
        failures = [e for e in events if "failure" in e.get("EventCategories", [])]
        assert failures and "not supported" in failures[0]["Message"]
