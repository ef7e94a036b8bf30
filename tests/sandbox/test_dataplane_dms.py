"""DMS in the sandbox copies a real database into S3 as DMS does: full load, then change files.

Sources: the SQLite file behind a sandbox RDS instance (reached through its Secrets Manager
secret, as the deployed stack does), and real MariaDB and PostgreSQL servers (reached through
the endpoint's own server/port/user/password). Outside CI an unreachable server skips its test;
with CI=true it fails.
"""

from __future__ import annotations

import csv
import io
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from tests.sandbox_fixture import SERVICE_POLICY, SandboxServer, source_url, wait_for

pytestmark = pytest.mark.slow

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/test"
PG_SOURCE = {  # a DMS source endpoint on the PostgreSQL test server (trust auth: any password)
    "EngineName": "postgres",
    "ServerName": "127.0.0.1",
    "Port": 5432,
    "Username": "postgres",
    "Password": "unused",
    "DatabaseName": "test",
}
ROWS = [
    (1, "Ann Lee", "a@example.com", 10.5),
    (2, 'Bob "the" Builder', None, 0.0),
    (3, "Cruz, Maria", "m@example.com", None),
    (4, "multi\nline", "d@example.com", 3.25),
]


def unique(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def server_engine(url: str) -> sa.Engine:
    """An engine on a test server; skip (or fail in CI) when the server is unreachable."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        message = f"{url.split('://')[0]} server at {url.split('@')[-1]} unreachable: {type(exc).__name__}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return engine


def create_customer(conn: sa.Connection, schema: str | None, table: str) -> sa.Table:
    md = sa.MetaData(schema=schema)
    t = sa.Table(
        table,
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(100)),
        sa.Column("email", sa.String(100)),
        sa.Column("balance", sa.Float),
    )
    md.create_all(conn)
    conn.execute(t.insert(), [dict(zip(("id", "name", "email", "balance"), r, strict=True)) for r in ROWS])
    return t


def expected(rows: list[tuple[Any, ...]]) -> list[list[str]]:
    return [["" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in r] for r in rows]


def read_csv(sb: SandboxServer, bucket: str, key: str) -> list[list[str]]:
    body = sb.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return list(csv.reader(io.StringIO(body, newline="")))


class Replication:
    """DMS endpoints and a task around one source, driven through boto3."""

    def __init__(
        self,
        sb: SandboxServer,
        source: dict[str, Any],
        bucket: str,
        mappings: dict[str, Any],
        migration_type: str = "full-load-and-cdc",
        s3_extra: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.sb, self.dms, self.bucket = sb, sb.client("dms"), bucket
        name = name or unique("t")
        sb.client("s3").create_bucket(Bucket=bucket)
        src = self.dms.create_endpoint(EndpointIdentifier=f"{name}-src", EndpointType="source", **source)["Endpoint"]
        tgt = self.dms.create_endpoint(
            EndpointIdentifier=f"{name}-tgt",
            EndpointType="target",
            EngineName="s3",
            S3Settings={
                "BucketName": bucket,
                "BucketFolder": "dms",
                "AddColumnName": True,
                "ServiceAccessRoleArn": sb.create_role("dms-s3", service="dms.amazonaws.com", policy=SERVICE_POLICY),
                **(s3_extra or {}),
            },
        )["Endpoint"]
        ri = self.dms.create_replication_instance(
            ReplicationInstanceIdentifier=f"{name}-ri", ReplicationInstanceClass="dms.t3.micro"
        )["ReplicationInstance"]
        self.arn = self.dms.create_replication_task(
            ReplicationTaskIdentifier=name,
            SourceEndpointArn=src["EndpointArn"],
            TargetEndpointArn=tgt["EndpointArn"],
            ReplicationInstanceArn=ri["ReplicationInstanceArn"],
            MigrationType=migration_type,
            TableMappings=json.dumps(mappings),
        )["ReplicationTask"]["ReplicationTaskArn"]
        self.endpoint_arns = (src["EndpointArn"], tgt["EndpointArn"])
        self.instance_arn = ri["ReplicationInstanceArn"]

    def delete(self) -> None:
        """What `dcp down` does: the task, its endpoints and its replication instance go."""
        self.dms.delete_replication_task(ReplicationTaskArn=self.arn)
        for arn in self.endpoint_arns:
            self.dms.delete_endpoint(EndpointArn=arn)
        self.dms.delete_replication_instance(ReplicationInstanceArn=self.instance_arn)

    def describe(self) -> dict[str, Any]:
        tasks = self.dms.describe_replication_tasks(Filters=[{"Name": "replication-task-arn", "Values": [self.arn]}])[
            "ReplicationTasks"
        ]
        return dict(tasks[0])

    def run(self, start_type: str) -> dict[str, Any]:
        self.dms.start_replication_task(ReplicationTaskArn=self.arn, StartReplicationTaskType=start_type)

        def settled() -> dict[str, Any] | None:
            d = self.describe()
            if d["Status"] == "failed":
                raise AssertionError(d.get("LastFailureMessage"))
            loaded = d["Status"] == "running" and d["ReplicationTaskStats"]["FullLoadProgressPercent"] == 100
            tables = self.dms.describe_table_statistics(ReplicationTaskArn=self.arn)["TableStatistics"]
            done = tables and all(t["TableState"] == "Table completed" for t in tables)
            return d if (d["Status"] == "stopped" or loaded) and done else None

        return dict(wait_for(settled, what="the replication task"))

    def stop(self) -> None:
        self.dms.stop_replication_task(ReplicationTaskArn=self.arn)
        wait_for(lambda: self.describe()["Status"] == "stopped", what="the task to stop")

    def keys(self, prefix: str) -> list[str]:
        listing = self.sb.client("s3").list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listing.get("Contents", []))

    def stats(self) -> dict[str, dict[str, Any]]:
        tables = self.dms.describe_table_statistics(ReplicationTaskArn=self.arn)["TableStatistics"]
        return {t["TableName"]: t for t in tables}


def mapping(schema: str, table: str = "%") -> dict[str, Any]:
    return {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "1",
                "rule-action": "include",
                "object-locator": {"schema-name": schema, "table-name": table},
            }
        ]
    }


def full_load_then_cdc(rep: Replication, schema: str, table: str, engine: sa.Engine, t: sa.Table) -> None:
    """The behaviour every source must show: exact full load, then I/U/D change rows."""
    d = rep.run("start-replication")
    assert d["ReplicationTaskStats"]["TablesLoaded"] == 1
    prefix = f"dms/{schema}/{table}/"
    assert rep.keys(prefix) == [f"{prefix}LOAD00000001.csv"]
    rows = read_csv(rep.sb, rep.bucket, f"{prefix}LOAD00000001.csv")
    assert rows[0] == ["id", "name", "email", "balance"]
    assert rows[1:] == expected(ROWS)
    assert rep.stats()[table]["FullLoadRows"] == len(ROWS)

    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == 2).values(email="bob@example.com"))
        conn.execute(t.delete().where(t.c.id == 3))
        conn.execute(t.insert().values(id=5, name="Eve", email=None, balance=1.5))
    rep.stop()
    rep.run("resume-processing")
    changes = [k for k in rep.keys(prefix) if not k.endswith("LOAD00000001.csv")]
    assert len(changes) == 1 and changes[0].removeprefix(prefix)[:8].isdigit()
    cdc = read_csv(rep.sb, rep.bucket, changes[0])
    assert cdc[0] == ["Op", "id", "name", "email", "balance"]
    assert sorted(cdc[1:]) == sorted(
        [
            ["I", "5", "Eve", "", "1.5"],
            ["U", "2", 'Bob "the" Builder', "bob@example.com", "0"],
            ["D", "3", "Cruz, Maria", "m@example.com", ""],
        ]
    )
    s = rep.stats()[table]
    assert (s["Inserts"], s["Updates"], s["Deletes"]) == (1, 1, 1)


def test_sqlite_rds_instance_full_load_and_cdc_through_its_secret(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    rds, sm = sb.client("rds"), sb.client("secretsmanager")
    instance, db_name = unique("src").replace("_", "-"), "dataset"
    rds.create_db_instance(
        DBInstanceIdentifier=instance,
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        AllocatedStorage=20,
        MasterUsername="dcpadmin",
        MasterUserPassword="not-a-real-pass-1",
        DBName=db_name,
    )
    endpoint = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]["Endpoint"]
    assert endpoint["Port"] == 3306 and endpoint["Address"].startswith(f"{instance}.")
    path = sb.state_dir.resolve() / "rds" / f"{instance}.sqlite"
    assert path.is_file()  # the instance's data, which the endpoint name resolves to
    secret = {
        "engine": "mysql",
        "host": endpoint["Address"],
        "port": endpoint["Port"],
        "username": "dcpadmin",
        "password": "not-a-real-pass-1",
        "dbname": db_name,
    }
    secret_arn = sm.create_secret(Name=unique("db"), SecretString=json.dumps(secret))["ARN"]
    engine = sa.create_engine(source_url(sb.state_dir, secret))  # what the seeding Lambda does
    with engine.begin() as conn:
        t = create_customer(conn, None, "customer")
    rep = Replication(
        sb,
        {"EngineName": "mysql", "MySQLSettings": {"SecretsManagerSecretId": secret_arn}},
        unique("raw").replace("_", "-"),
        mapping(db_name),
    )
    try:
        full_load_then_cdc(rep, db_name, "customer", engine, t)
    finally:
        engine.dispose()
    rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
    assert not path.exists()


@pytest.mark.db
def test_mariadb_full_load_and_cdc(sandbox_server: SandboxServer) -> None:
    admin = server_engine(MARIADB_ADMIN)
    schema = unique("dcp_dms")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{schema}`"))
    engine = sa.create_engine(f"mysql+pymysql://root@127.0.0.1:3306/{schema}")
    try:
        with engine.begin() as conn:
            t = create_customer(conn, None, "customer")
        rep = Replication(
            sandbox_server,
            {
                "EngineName": "mariadb",
                "ServerName": "127.0.0.1",
                "Port": 3306,
                "Username": "root",
                "Password": "",
                "DatabaseName": schema,
            },
            unique("raw").replace("_", "-"),
            mapping(schema),
        )
        full_load_then_cdc(rep, schema, "customer", engine, t)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{schema}`"))
        admin.dispose()


@pytest.mark.db
def test_postgres_full_load_and_cdc_splits_files_and_filters_tables(sandbox_server: SandboxServer) -> None:
    engine = server_engine(PG_ADMIN)
    schema = unique("dcp_dms")
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            t = create_customer(conn, schema, "customer")
            other = sa.Table("audit", sa.MetaData(schema=schema), sa.Column("id", sa.Integer, primary_key=True))
            other.create(conn)
        rep = Replication(
            sandbox_server,
            PG_SOURCE,
            unique("raw").replace("_", "-"),
            mapping(schema, "cust%"),
        )
        full_load_then_cdc(rep, schema, "customer", engine, t)
        assert rep.keys(f"dms/{schema}/audit/") == []

        # a reload writes the full table again, split at MaxFileSize (1 KB here)
        with engine.begin() as conn:
            conn.execute(
                t.insert(),
                [{"id": i, "name": f"n{i}" * 10, "email": None, "balance": i} for i in range(6, 60)],
            )
        split = Replication(
            sandbox_server,
            PG_SOURCE,
            unique("raw").replace("_", "-"),
            mapping(schema, "customer"),
            migration_type="full-load",
            s3_extra={"MaxFileSize": 1},
        )
        d = split.run("start-replication")
        assert d["Status"] == "stopped" and d["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
        files = split.keys(f"dms/{schema}/customer/")
        assert len(files) > 2 and files[1].endswith("LOAD00000002.csv")
        loaded = [row for f in files for row in read_csv(sandbox_server, split.bucket, f)[1:]]
        with engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
        assert len(loaded) == count == split.stats()["customer"]["FullLoadRows"]
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@dataclass(frozen=True)
class ServerSandbox:
    """A second sandbox whose RDS instances live on a real PostgreSQL or MariaDB server."""

    engine: str  # postgres | mariadb
    admin_url: str
    sb: SandboxServer

    def create_instance(self, user: str, db_name: str, password: str) -> tuple[str, dict[str, Any]]:
        """A sandbox RDS instance (DBName, MasterUsername/Password); its id and RDS-style secret."""
        rds = self.sb.client("rds")
        instance = unique("src").replace("_", "-")
        rds.create_db_instance(
            DBInstanceIdentifier=instance,
            DBInstanceClass="db.t3.micro",
            Engine=self.engine.replace("mariadb", "mysql"),
            AllocatedStorage=20,
            MasterUsername=user,
            MasterUserPassword=password,
            DBName=db_name,
        )
        endpoint = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]["Endpoint"]
        secret = {
            "engine": self.engine,
            "host": endpoint["Address"],
            "port": endpoint["Port"],
            "username": user,
            "password": password,
            "dbname": db_name,
        }
        return instance, secret

    def delete_instance(self, instance: str) -> None:
        self.sb.client("rds").delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)

    def drop(self, user: str, *databases: str) -> None:
        """Remove what a test left on the server: its databases and the login."""
        admin = server_engine(self.admin_url)
        try:
            with admin.connect() as conn:
                for db in databases:
                    if self.engine == "postgres":
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
                    else:
                        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{db}`"))
                if self.engine == "postgres":
                    conn.execute(sa.text(f'DROP ROLE IF EXISTS "{user}"'))
                else:
                    for host in ("%", "localhost"):
                        conn.execute(sa.text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
        finally:
            admin.dispose()


@pytest.fixture(params=["postgres", "mariadb"])
def server_sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerSandbox]:
    from dcp.sandbox import control

    admin_url = PG_ADMIN if request.param == "postgres" else MARIADB_ADMIN
    server_engine(admin_url).dispose()
    state_dir = tmp_path_factory.mktemp(f"{request.param}-sandbox") / ".dcp"
    started = control.start(state_dir, source_url=admin_url)
    assert started.url and started.pid
    try:
        yield ServerSandbox(request.param, admin_url, SandboxServer(started.url, started.pid, state_dir))
    finally:
        control.stop(state_dir)


@pytest.mark.db
def test_rds_instance_on_a_server_creates_database_and_login(server_sandbox: ServerSandbox) -> None:
    server = server_sandbox
    db_name, user = unique("dcp_rds"), unique("dcp_user")
    instance, secret = server.create_instance(user, db_name, "Sandbox-pass-123")
    port = 5432 if server.engine == "postgres" else 3306
    assert secret["host"].endswith(".rds.amazonaws.com") and secret["port"] == port
    engine = sa.create_engine(source_url(server.sb.state_dir, secret))
    admin = server_engine(server.admin_url)
    try:
        with engine.begin() as conn:  # the new login may create and fill tables in the new database
            conn.execute(sa.text("CREATE TABLE t (id int primary key)"))
            conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        engine.dispose()
        server.delete_instance(instance)
        query = (
            "SELECT count(*) FROM pg_database WHERE datname = :d"
            if server.engine == "postgres"
            else "SELECT count(*) FROM information_schema.schemata WHERE schema_name = :d"
        )
        with admin.connect() as conn:
            assert conn.execute(sa.text(query), {"d": db_name}).scalar_one() == 0
    finally:
        engine.dispose()
        admin.dispose()
        server.drop(user, db_name)


@pytest.mark.db
def test_second_rds_instance_with_the_same_login_gets_its_own_password(server_sandbox: ServerSandbox) -> None:
    """A second stack on the same server reuses the master username with a new password."""
    server = server_sandbox
    user, db_names = unique("dcp_user"), [unique("dcp_rds"), unique("dcp_rds")]
    instances: list[str] = []
    try:
        for n, db_name in enumerate(db_names):
            instance, secret = server.create_instance(user, db_name, f"Sandbox-pass-{n}")
            instances.append(instance)
        engine = sa.create_engine(source_url(server.sb.state_dir, secret))  # the second instance's password
        try:
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        finally:
            engine.dispose()
    finally:
        for instance in instances:
            server.delete_instance(instance)
        server.drop(user, *db_names)


def test_recreated_task_with_the_same_name_starts_afresh(sandbox_server: SandboxServer, tmp_path: Any) -> None:
    """`dcp down` then `dcp up` in one sandbox: the new task is ready and fully loads the new bucket."""
    path = tmp_path / "source.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        create_customer(conn, None, "customer")
    engine.dispose()
    source = {"EngineName": "mysql", "ServerName": str(path), "Port": 0, "DatabaseName": "dataset"}
    name, bucket = unique("t").replace("_", "-"), unique("raw").replace("_", "-")
    first = Replication(sandbox_server, source, bucket, mapping("dataset"), name=name)
    first.run("start-replication")
    first.stop()
    first.delete()
    s3 = sandbox_server.client("s3")
    s3.delete_object(Bucket=bucket, Key="dms/dataset/customer/LOAD00000001.csv")
    s3.delete_bucket(Bucket=bucket)

    second = Replication(sandbox_server, source, bucket, mapping("dataset"), name=name)
    assert second.arn == first.arn
    described = second.describe()
    assert described["Status"] == "ready" and "ReplicationTaskStats" not in described
    assert second.stats() == {}
    second.run("start-replication")
    assert second.keys("dms/dataset/customer/") == ["dms/dataset/customer/LOAD00000001.csv"]
    assert second.stats()["customer"]["FullLoadRows"] == len(ROWS)


@pytest.mark.db
def test_seed_lambda_tables_are_where_dms_reads_them(server_sandbox: ServerSandbox) -> None:
    """The seed Lambda writes `<db_name>.<table>` (PostgreSQL: a schema named like the database);
    DMS, mapping schema = db_name, full-loads it into `<db_name>/<table>/` as `dcp scan` expects."""
    from dcp.lambdas.seed import handle

    server = server_sandbox
    db_name, user = unique("dataset"), unique("dcp_user")
    instance, secret = server.create_instance(user, db_name, "Sandbox-pass-123")
    engine = sa.create_engine(source_url(server.sb.state_dir, secret))
    columns = ["id", "name"]
    try:
        assert handle({"mode": "create", "table": "customer", "columns": columns}, engine)["count"] == 0
        rows = [[1, "Ann"], [2, "Bob"], [3, "Cy"]]
        inserted = handle({"mode": "insert", "table": "customer", "columns": columns, "rows": rows}, engine)
        assert inserted["inserted"] == 3
        handle({"mode": "upsert", "table": "customer", "columns": columns, "rows": [[2, "Bea"]]}, engine)
        deleted = handle({"mode": "delete", "table": "customer", "columns": ["id"], "rows": [[3]]}, engine)
        assert deleted["deleted"] == 1
        assert handle({"mode": "select_ids", "table": "customer"}, engine)["ids"] == [1, 2]
        assert handle({"mode": "count", "table": "customer"}, engine)["count"] == 2
        if server.engine == "postgres":
            with engine.connect() as conn:
                assert sa.inspect(conn).get_table_names(schema=db_name) == ["customer"]
                assert "customer" not in sa.inspect(conn).get_table_names(schema="public")
        rep = Replication(
            server.sb,
            {
                "EngineName": server.engine,
                "ServerName": secret["host"],
                "Port": secret["port"],
                "Username": user,
                "Password": secret["password"],
                "DatabaseName": db_name,
            },
            unique("raw").replace("_", "-"),
            mapping(db_name),
            migration_type="full-load",
        )
        rep.run("start-replication")
        key = f"dms/{db_name}/customer/LOAD00000001.csv"
        assert rep.keys("dms/") == [key]
        assert read_csv(server.sb, rep.bucket, key) == [["id", "name"], ["1", "Ann"], ["2", "Bea"]]
    finally:
        engine.dispose()
        server.delete_instance(instance)
        server.drop(user, db_name)


def read_parquet(sb: SandboxServer, bucket: str, key: str) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    body = sb.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(pa.BufferReader(body))


def test_parquet_target_keeps_the_source_types_and_values_through_cdc(sandbox_server: SandboxServer) -> None:
    """DataFormat parquet: typed as DMS maps the source columns (INT2/INT4, NUMERIC(p,s), DATE,
    DATETIME, BOOLEAN, STRING), leading zeros, NULL versus '' and Unicode kept, Op first in
    full-load (IncludeOpForFullLoad) and change files, a delete with its last values."""
    import datetime as dt
    from decimal import Decimal

    import pyarrow as pa

    engine = server_engine(PG_ADMIN)
    schema = unique("dcp_dms")
    md = sa.MetaData(schema=schema)
    t = sa.Table(
        "card",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("card_number", sa.String(20)),
        sa.Column("cvv", sa.SmallInteger),
        sa.Column("limit_eur", sa.Numeric(12, 2)),
        sa.Column("issued", sa.Date),
        sa.Column("seen", sa.DateTime),
        sa.Column("active", sa.Boolean),
        sa.Column("note", sa.Text),
    )
    seen = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    rows = [
        (1, "060414234710", 93, Decimal("1000.50"), dt.date(2020, 1, 2), seen, True, 'Zoë "q",\nline'),
        (2, "0000", None, None, None, None, None, ""),
        (3, None, 7, Decimal("-0.01"), dt.date(1999, 12, 31), seen, False, None),
    ]
    names = [c.name for c in t.columns]
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            md.create_all(conn)
            conn.execute(t.insert(), [dict(zip(names, r, strict=True)) for r in rows])
        rep = Replication(
            sandbox_server,
            PG_SOURCE,
            unique("raw").replace("_", "-"),
            mapping(schema, "card"),
            s3_extra={
                "DataFormat": "parquet",
                "ParquetVersion": "parquet-2-0",
                "EnableStatistics": True,
                "IncludeOpForFullLoad": True,
            },
        )
        rep.run("start-replication")
        prefix = f"dms/{schema}/card/"
        assert rep.keys(prefix) == [f"{prefix}LOAD00000001.parquet"]
        load = read_parquet(sandbox_server, rep.bucket, f"{prefix}LOAD00000001.parquet")
        assert load.schema.names == ["Op", *names]
        types = {f.name: f.type for f in load.schema}
        assert types["id"] == pa.int32() and types["cvv"] == pa.int16()
        assert types["card_number"] == pa.string() and types["limit_eur"] == pa.decimal128(12, 2)
        assert types["issued"] == pa.date32() and pa.types.is_timestamp(types["seen"])
        assert types["active"] == pa.bool_()
        assert load.column("Op").to_pylist() == ["I", "I", "I"]
        assert [tuple(r[n] for n in names) for r in load.to_pylist()] == rows

        with engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == 2).values(note=None, card_number="0001"))
            conn.execute(t.delete().where(t.c.id == 1))
            conn.execute(t.insert().values(id=4, card_number="007", note="", cvv=1))
        rep.stop()
        rep.run("resume-processing")
        changes = [k for k in rep.keys(prefix) if not k.endswith("LOAD00000001.parquet")]
        assert len(changes) == 1 and changes[0].endswith(".parquet")
        cdc = read_parquet(sandbox_server, rep.bucket, changes[0])
        assert cdc.schema.names == ["Op", *names] and cdc.schema.field("cvv").type == pa.int16()
        got = sorted((r["Op"], *(r[n] for n in names)) for r in cdc.to_pylist())
        assert got == sorted(
            [
                ("U", 2, "0001", None, None, None, None, None, None),
                ("D", *rows[0]),
                ("I", 4, "007", 1, None, None, None, None, ""),
            ]
        )
        s = rep.stats()["card"]
        assert (s["Inserts"], s["Updates"], s["Deletes"]) == (1, 1, 1)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
