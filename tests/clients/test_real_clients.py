"""The AWS CLI, PyAthena and awswrangler drive the sandbox as their users drive AWS; persona limits hold in each.

Tests marked `needs_ctas` use CTAS/UNLOAD (awswrangler's default `ctas_approach=True`,
PyAthena's `unload=True`), which the Athena emulator gains on the `athena` branch.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import REGION, ROWS, Dcp, Persona, persona

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))
README = Path(__file__).resolve().parents[2] / "README.md"


def aws(who: Persona, *args: str, ok: bool = True) -> Any:
    """`aws <args> --output json` as `who`; the parsed JSON (or the CompletedProcess when not ok)."""
    done = subprocess.run([AWS, *args, "--output", "json"], env=who.env(), capture_output=True, text=True, timeout=120)
    if not ok:
        return done
    assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout) if done.stdout.strip() else {}


def cli_query(lake: Dcp, who: Persona, sql: str) -> tuple[str, dict[str, Any]]:
    """Run SQL with `aws athena start-query-execution`, poll it; (final state, the execution)."""
    from tests.sandbox_fixture import wait_for

    started = aws(who, "athena", "start-query-execution", "--query-string", sql, "--work-group", who.workgroup)
    query_id = started["QueryExecutionId"]

    def finished() -> dict[str, Any] | None:
        execution = aws(who, "athena", "get-query-execution", "--query-execution-id", query_id)["QueryExecution"]
        return execution if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") else None

    execution = wait_for(finished, timeout=120, what=f"query {query_id}")
    return execution["Status"]["State"], execution


# --------------------------------------------------------------------------- AWS CLI
def test_aws_cli_glue_athena_lakeformation_macie(lake: Dcp) -> None:
    admin = persona(lake, "admin")
    names = lake.names()
    tables = aws(admin, "glue", "get-tables", "--database-name", names.masked_database)["TableList"]
    assert {"customer", "bank", "card"} <= {t["Name"] for t in tables}
    paged = aws(
        admin, "glue", "get-tables", "--database-name", names.masked_database, "--page-size", "1", "--max-items", "1"
    )
    assert len(paged["TableList"]) == 1 and paged.get("NextToken")

    state, execution = cli_query(lake, admin, f'SELECT count(*) AS n FROM "{names.masked_database}"."card"')
    assert state == "SUCCEEDED", execution["Status"]
    results = aws(admin, "athena", "get-query-results", "--query-execution-id", execution["QueryExecutionId"])[
        "ResultSet"
    ]
    assert results["Rows"][1]["Data"][0]["VarCharValue"] == str(ROWS)

    permissions = aws(admin, "lakeformation", "list-permissions")["PrincipalResourcePermissions"]
    principals = {p["Principal"]["DataLakePrincipalIdentifier"] for p in permissions}
    assert names.persona_role_arn("analyst") in principals

    finding_ids = aws(admin, "macie2", "list-findings")["findingIds"]
    assert finding_ids
    findings = aws(admin, "macie2", "get-findings", "--finding-ids", *finding_ids[:5])["findings"]
    assert all(f["type"].startswith("SensitiveData:S3Object/") for f in findings)


def test_aws_cli_analyst_is_refused_the_raw_tables(lake: Dcp) -> None:
    analyst = persona(lake, "analyst")
    names = lake.names()
    state, execution = cli_query(lake, analyst, f'SELECT * FROM "{names.raw_database}"."card" LIMIT 1')
    assert state == "FAILED"
    assert "card" in execution["Status"]["StateChangeReason"]
    state, _ = cli_query(lake, analyst, f'SELECT count(*) FROM "{names.masked_database}"."card"')
    assert state == "SUCCEEDED"


def test_aws_cli_glue_shows_the_analyst_only_what_lake_formation_grants(lake: Dcp) -> None:
    analyst, names = persona(lake, "analyst"), lake.names()
    databases = {d["Name"] for d in aws(analyst, "glue", "get-databases")["DatabaseList"]}
    assert names.masked_database in databases and names.raw_database not in databases
    masked = aws(analyst, "glue", "get-tables", "--database-name", names.masked_database)["TableList"]
    assert {"customer", "bank", "card"} <= {t["Name"] for t in masked}
    assert aws(analyst, "glue", "get-tables", "--database-name", names.raw_database)["TableList"] == []
    done = aws(analyst, "glue", "get-table", "--database-name", names.raw_database, "--name", "card", ok=False)
    assert done.returncode != 0
    assert "AccessDeniedException" in done.stderr and "Insufficient Lake Formation permission(s) on card" in done.stderr
    # the administrator (a data lake administrator persona) sees the raw zone
    raw = aws(persona(lake, "lf-admin"), "glue", "get-table", "--database-name", names.raw_database, "--name", "card")
    assert raw["Table"]["Name"] == "card"


def test_boto3_glue_refuses_the_analyst_the_raw_tables(lake: Dcp) -> None:
    names = lake.names()
    glue = persona(lake, "analyst").session().client("glue", endpoint_url=lake.url)
    with pytest.raises(glue.exceptions.AccessDeniedException, match=r"Insufficient Lake Formation permission\(s\)"):
        glue.get_table(DatabaseName=names.raw_database, Name="card")
    with pytest.raises(glue.exceptions.AccessDeniedException):
        glue.get_database(Name=names.raw_database)
    databases = {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    assert names.masked_database in databases and names.raw_database not in databases
    card = glue.get_table(DatabaseName=names.masked_database, Name="card")["Table"]
    assert "card_number" in {c["Name"] for c in card["StorageDescriptor"]["Columns"]}
    admin = persona(lake, "admin").session().client("glue", endpoint_url=lake.url)
    assert {"customer", "bank", "card"} <= {
        t["Name"] for t in admin.get_tables(DatabaseName=names.raw_database)["TableList"]
    }


def test_unsupported_operation_is_a_clear_cli_error(lake: Dcp) -> None:
    done = aws(persona(lake, "admin"), "athena", "list-engine-versions", ok=False)
    assert done.returncode != 0
    assert "UnsupportedOperation" in done.stderr and "athena:ListEngineVersions" in done.stderr


# --------------------------------------------------------------------------- Athena's catalog API
def test_athena_catalog_api_reads_glue_through_lake_formation(lake: Dcp) -> None:
    names = lake.names()
    admin = persona(lake, "admin").session().client("athena", endpoint_url=lake.url)
    catalogs = admin.list_data_catalogs()["DataCatalogsSummary"]
    assert {"CatalogName": "AwsDataCatalog", "Type": "GLUE", "Status": "CREATE_COMPLETE"} in catalogs
    assert admin.get_data_catalog(Name="AwsDataCatalog")["DataCatalog"]["Type"] == "GLUE"
    databases = {d["Name"] for d in admin.list_databases(CatalogName="AwsDataCatalog")["DatabaseList"]}
    assert {names.raw_database, names.masked_database} <= databases
    assert admin.get_database(CatalogName="AwsDataCatalog", DatabaseName=names.masked_database)["Database"]
    first = admin.list_table_metadata(CatalogName="AwsDataCatalog", DatabaseName=names.masked_database, MaxResults=1)
    assert len(first["TableMetadataList"]) == 1 and first["NextToken"]
    card = admin.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName=names.masked_database, TableName="card")[
        "TableMetadata"
    ]
    assert "card_number" in {c["Name"] for c in card["Columns"]}
    with pytest.raises(admin.exceptions.MetadataException):
        admin.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName=names.masked_database, TableName="nope")

    analyst = persona(lake, "analyst").session().client("athena", endpoint_url=lake.url)
    seen = {d["Name"] for d in analyst.list_databases(CatalogName="AwsDataCatalog")["DatabaseList"]}
    assert names.masked_database in seen and names.raw_database not in seen
    with pytest.raises(analyst.exceptions.MetadataException):
        analyst.get_table_metadata(CatalogName="AwsDataCatalog", DatabaseName=names.raw_database, TableName="card")


# --------------------------------------------------------------------------- PyAthena
def _connect(lake: Dcp, who: Persona, **kwargs: Any) -> Any:
    import pyathena

    return pyathena.connect(
        region_name=REGION,
        work_group=who.workgroup,
        endpoint_url=lake.url,
        **who.credentials,
        **kwargs,
    )


def test_pyathena_default_cursor(lake: Dcp) -> None:
    names = lake.names()
    cursor = _connect(lake, persona(lake, "analyst")).cursor()
    cursor.execute(f'SELECT id, card_number FROM "{names.masked_database}"."card" ORDER BY id')
    rows = cursor.fetchall()
    assert len(rows) == ROWS
    assert [d[0] for d in cursor.description] == ["id", "card_number"]
    assert all(str(number).startswith("*") for _, number in rows)


def test_pyathena_qmark_parameters(lake: Dcp) -> None:
    """PyAthena's qmark paramstyle sends Athena ExecutionParameters (each a SQL literal)."""
    names = lake.names()
    cursor = _connect(lake, persona(lake, "analyst")).cursor()
    cursor.execute(
        f'SELECT count(*) FROM "{names.masked_database}"."card" WHERE CAST(id AS bigint) <= ? AND ? = \'x\'',
        ["10", "'x'"],
        paramstyle="qmark",
    )
    assert cursor.fetchall() == [(10,)]


def test_pyathena_sqlalchemy_dialect_sees_what_lake_formation_grants(lake: Dcp) -> None:
    """PyAthena's SQLAlchemy dialect reads Athena's catalog API (ListDatabases, ListTableMetadata,
    GetTableMetadata): the analyst's inspector lists the masked tables and not the raw zone."""
    import sqlalchemy as sa

    names, analyst = lake.names(), persona(lake, "analyst")
    engine = sa.create_engine(
        f"awsathena+rest://athena.{REGION}.amazonaws.com:443/{names.masked_database}",
        connect_args={**analyst.credentials, "endpoint_url": lake.url, "work_group": analyst.workgroup},
    )
    try:
        inspector = sa.inspect(engine)
        schemas = set(inspector.get_schema_names())
        assert names.masked_database in schemas and names.raw_database not in schemas
        assert {"customer", "bank", "card"} <= set(inspector.get_table_names(schema=names.masked_database))
        assert "card_number" in {c["name"] for c in inspector.get_columns("card", schema=names.masked_database)}
        with engine.connect() as conn:
            assert conn.execute(sa.text('SELECT count(*) FROM "card"')).scalar_one() == ROWS
    finally:
        engine.dispose()


def test_pyathena_pandas_cursor(lake: Dcp) -> None:
    from pyathena.pandas.cursor import PandasCursor

    names = lake.names()
    cursor = _connect(lake, persona(lake, "analyst"), cursor_class=PandasCursor).cursor()
    frame = cursor.execute(f'SELECT * FROM "{names.masked_database}"."customer"').as_pandas()
    assert len(frame) == ROWS
    assert set(frame["name"]) == {"****"}


def test_pyathena_arrow_cursor(lake: Dcp, monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import urlsplit

    from pyarrow import fs
    from pyathena.arrow.cursor import ArrowCursor

    # PyAthena builds pyarrow's S3FileSystem without an endpoint, and pyarrow reads none from the
    # environment: point the class at the sandbox (the README's sandbox section shows the same).
    endpoint = urlsplit(lake.url)
    original = fs.S3FileSystem
    monkeypatch.setattr(
        fs, "S3FileSystem", lambda **kw: original(endpoint_override=endpoint.netloc, scheme=endpoint.scheme, **kw)
    )
    names = lake.names()
    cursor = _connect(lake, persona(lake, "analyst"), cursor_class=ArrowCursor).cursor()
    table = cursor.execute(f'SELECT id, mail FROM "{names.masked_database}"."customer"').as_arrow()
    assert table.num_rows == ROWS
    assert table.column_names == ["id", "mail"]


def test_pyathena_analyst_is_refused_the_raw_tables(lake: Dcp) -> None:
    from pyathena.error import DatabaseError

    cursor = _connect(lake, persona(lake, "analyst")).cursor()
    with pytest.raises(DatabaseError):
        cursor.execute(f'SELECT * FROM "{lake.names().raw_database}"."card"')


@pytest.mark.needs_ctas
def test_pyathena_unload(lake: Dcp) -> None:
    from pyathena.pandas.cursor import PandasCursor

    names = lake.names()
    analyst = persona(lake, "analyst")
    # unload=True needs s3_staging_dir even when the workgroup has an output location
    workgroup = analyst.session().client("athena", endpoint_url=lake.url).get_work_group(WorkGroup=analyst.workgroup)
    staging = workgroup["WorkGroup"]["Configuration"]["ResultConfiguration"]["OutputLocation"]
    cursor = _connect(lake, analyst, cursor_class=PandasCursor, cursor_kwargs={"unload": True}, s3_staging_dir=staging)
    frame = cursor.cursor().execute(f'SELECT id, card_number FROM "{names.masked_database}"."card"').as_pandas()
    assert len(frame) == ROWS


# --------------------------------------------------------------------------- awswrangler
@pytest.fixture
def wrangler(lake: Dcp) -> Any:
    import awswrangler as wr

    for service in ("athena", "glue", "s3", "sts", "lakeformation"):
        setattr(wr.config, f"{service}_endpoint_url", lake.url)
    yield wr
    wr.config.reset()


def test_awswrangler_catalog(lake: Dcp, wrangler: Any) -> None:
    names = lake.names()
    session = persona(lake, "admin").session()
    databases = set(wrangler.catalog.databases(boto3_session=session)["Database"])
    assert {names.raw_database, names.masked_database} <= databases
    tables = wrangler.catalog.tables(database=names.masked_database, boto3_session=session)
    assert {"customer", "bank", "card"} <= set(tables["Table"])
    types = wrangler.catalog.get_table_types(database=names.masked_database, table="card", boto3_session=session)
    assert "card_number" in types
    assert wrangler.catalog.does_table_exist(database=names.masked_database, table="card", boto3_session=session)


def test_awswrangler_catalog_shows_the_analyst_only_the_masked_tables(lake: Dcp, wrangler: Any) -> None:
    names = lake.names()
    session = persona(lake, "analyst").session()
    masked = wrangler.catalog.tables(database=names.masked_database, boto3_session=session)
    assert {"customer", "bank", "card"} <= set(masked["Table"])
    assert wrangler.catalog.tables(database=names.raw_database, boto3_session=session).empty
    assert names.raw_database not in set(wrangler.catalog.databases(boto3_session=session)["Database"])
    with pytest.raises(Exception, match="Insufficient Lake Formation permission"):
        wrangler.catalog.get_table_types(database=names.raw_database, table="card", boto3_session=session)


def test_awswrangler_read_sql_query_without_ctas(lake: Dcp, wrangler: Any) -> None:
    names = lake.names()
    frame = wrangler.athena.read_sql_query(
        'SELECT * FROM "card"',
        database=names.masked_database,
        workgroup=names.persona_workgroup("analyst"),
        ctas_approach=False,
        boto3_session=persona(lake, "analyst").session(),
    )
    assert len(frame) == ROWS
    assert all(str(v).startswith("*") for v in frame["card_number"])


def test_awswrangler_analyst_is_refused_the_raw_tables(lake: Dcp, wrangler: Any) -> None:
    with pytest.raises(wrangler.exceptions.QueryFailed):
        wrangler.athena.read_sql_query(
            'SELECT * FROM "card"',
            database=lake.names().raw_database,
            workgroup=lake.names().persona_workgroup("analyst"),
            ctas_approach=False,
            boto3_session=persona(lake, "analyst").session(),
        )


@pytest.mark.needs_ctas
def test_awswrangler_read_sql_query_with_ctas(lake: Dcp, wrangler: Any) -> None:
    names = lake.names()
    frame = wrangler.athena.read_sql_query(
        'SELECT id, card_number FROM "card"',
        database=names.masked_database,
        # CTAS creates a (temporary) Glue table in the database: that needs Lake Formation's
        # CREATE_TABLE there, which the analyst does not have; the administrator does.
        workgroup=names.persona_workgroup("lf-admin"),
        boto3_session=persona(lake, "admin").session(),
    )
    assert len(frame) == ROWS


# --------------------------------------------------------------------------- README examples that run here
def _readme_example(prefix: str) -> list[str]:
    from tests.unit.test_readme_examples import readme_examples

    (example,) = [e for e in readme_examples() if e.startswith(prefix)]
    return shlex.split(example)[1:]


@pytest.mark.parametrize(
    "prefix",
    ["dcp plan --output json", "dcp status --output json", "dcp up", "dcp grant --all", "dcp query --persona analyst"],
)
def test_readme_examples_run_on_the_sandbox(lake: Dcp, prefix: str) -> None:
    args = _readme_example(prefix)
    run = lake(*args)
    assert run.code == 0
    if "--output" in args and "json" in args:
        assert isinstance(run.json(), dict)
