"""Glue's catalog reads are filtered by Lake Formation for principals that are not administrators."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.sandbox_fixture import SandboxServer

READER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["glue:Get*", "glue:SearchTables"], "Resource": "*"}],
}


def _table(name: str, columns: list[str]) -> dict[str, Any]:
    return {
        "Name": name,
        "StorageDescriptor": {
            "Columns": [{"Name": c, "Type": "string"} for c in columns],
            "Location": f"s3://catalog-filter-test/{name}/",
        },
        "PartitionKeys": [{"Name": "day", "Type": "string"}],
        "TableType": "EXTERNAL_TABLE",
    }


@pytest.fixture
def catalog(sandbox_server: SandboxServer) -> tuple[str, str, Any]:
    """Two databases as root: `open_db` with tables `shown`/`hidden`, `closed_db`; a reader role
    granted SELECT on two columns of `shown` and DESCRIBE on `open_db`; its Glue client."""
    sb = sandbox_server
    suffix = uuid.uuid4().hex[:8]
    open_db, closed_db = f"open_{suffix}", f"closed_{suffix}"
    glue = sb.client("glue")
    for db in (open_db, closed_db):
        glue.create_database(DatabaseInput={"Name": db})
    glue.create_table(DatabaseName=open_db, TableInput=_table("shown", ["id", "email", "city"]))
    glue.create_table(DatabaseName=open_db, TableInput=_table("hidden", ["id", "secret"]))
    glue.create_table(DatabaseName=closed_db, TableInput=_table("other", ["id"]))
    role = sb.create_role(f"catalog-reader-{suffix}", policy=READER_POLICY)
    lf = sb.client("lakeformation")
    principal = {"DataLakePrincipalIdentifier": role}
    lf.grant_permissions(
        Principal=principal,
        Resource={"TableWithColumns": {"DatabaseName": open_db, "Name": "shown", "ColumnNames": ["id", "city"]}},
        Permissions=["SELECT"],
    )
    lf.grant_permissions(Principal=principal, Resource={"Database": {"Name": open_db}}, Permissions=["DESCRIBE"])
    return open_db, closed_db, sb.client("glue", sb.assume(role))


def test_reader_sees_only_what_lake_formation_grants_it(catalog: tuple[str, str, Any]) -> None:
    open_db, closed_db, glue = catalog
    databases = {d["Name"] for d in glue.get_databases()["DatabaseList"]}
    assert open_db in databases and closed_db not in databases
    assert glue.get_database(Name=open_db)["Database"]["Name"] == open_db
    with pytest.raises(
        glue.exceptions.AccessDeniedException, match=f"Insufficient Lake Formation permission.s. on {closed_db}"
    ):
        glue.get_database(Name=closed_db)

    assert [t["Name"] for t in glue.get_tables(DatabaseName=open_db)["TableList"]] == ["shown"]
    assert glue.get_tables(DatabaseName=closed_db)["TableList"] == []
    searched = glue.search_tables()["TableList"]
    assert {(t["DatabaseName"], t["Name"]) for t in searched if t["DatabaseName"] in (open_db, closed_db)} == {
        (open_db, "shown")
    }

    # column-level SELECT: GetTable shows only the granted columns
    table = glue.get_table(DatabaseName=open_db, Name="shown")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "city"]
    assert table["PartitionKeys"] == []
    versions = glue.get_table_versions(DatabaseName=open_db, TableName="shown")["TableVersions"]
    assert all("email" not in str(v["Table"]["StorageDescriptor"]["Columns"]) for v in versions)
    for name in ("hidden",):
        with pytest.raises(
            glue.exceptions.AccessDeniedException, match=f"Insufficient Lake Formation permission.s. on {name}"
        ):
            glue.get_table(DatabaseName=open_db, Name=name)
        with pytest.raises(glue.exceptions.AccessDeniedException):
            glue.get_partitions(DatabaseName=open_db, TableName=name)
        with pytest.raises(glue.exceptions.AccessDeniedException):
            glue.get_table_versions(DatabaseName=open_db, TableName=name)


def test_root_and_data_lake_admins_see_everything(sandbox_server: SandboxServer, catalog: tuple[str, str, Any]) -> None:
    open_db, closed_db, _ = catalog
    sb = sandbox_server
    root = sb.client("glue")
    assert {t["Name"] for t in root.get_tables(DatabaseName=open_db)["TableList"]} == {"shown", "hidden"}
    admin_role = sb.create_role(f"catalog-admin-{uuid.uuid4().hex[:8]}", policy=READER_POLICY)
    lf = sb.client("lakeformation")
    settings = lf.get_data_lake_settings()["DataLakeSettings"]
    admins = list(settings.get("DataLakeAdmins") or [])
    lf.put_data_lake_settings(
        DataLakeSettings={**settings, "DataLakeAdmins": [*admins, {"DataLakePrincipalIdentifier": admin_role}]}
    )
    try:
        admin = sb.client("glue", sb.assume(admin_role))
        table = admin.get_table(DatabaseName=open_db, Name="shown")["Table"]
        assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "email", "city"]
        assert {closed_db, open_db} <= {d["Name"] for d in admin.get_databases()["DatabaseList"]}
    finally:
        lf.put_data_lake_settings(DataLakeSettings={**settings, "DataLakeAdmins": admins})


def test_a_tables_creator_sees_it(sandbox_server: SandboxServer) -> None:
    """Implicit permissions: the principal that created a table holds every permission on it."""
    sb = sandbox_server
    suffix = uuid.uuid4().hex[:8]
    db = f"made_{suffix}"
    sb.client("glue").create_database(DatabaseInput={"Name": db})
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["glue:*"], "Resource": "*"}],
    }
    role = sb.create_role(f"catalog-maker-{suffix}", policy=policy)
    sb.client("lakeformation").grant_permissions(
        Principal={"DataLakePrincipalIdentifier": role},
        Resource={"Database": {"Name": db}},
        Permissions=["CREATE_TABLE"],
    )
    maker = sb.client("glue", sb.assume(role))
    maker.create_table(DatabaseName=db, TableInput=_table("mine", ["id", "email"]))
    table = maker.get_table(DatabaseName=db, Name="mine")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "email"]


def test_a_crawlers_role_sees_the_tables_it_crawled(sandbox_server: SandboxServer) -> None:
    """The Glue job reads (GetTable/UpdateTable) the tables its role's crawler made: the crawler's
    role created them, so Lake Formation gives it every permission on them; another role sees none."""
    from tests.sandbox.test_dataplane_glue import Lake, crawl

    sb = sandbox_server
    lake = Lake(sb)
    crawl(lake, lake.raw_crawler)
    crawler_role = sb.client("glue", sb.assume(lake.role))
    table = crawler_role.get_table(DatabaseName=lake.raw_db, Name="customer")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "name", "email", "score"]
    other = sb.client("glue", sb.assume(sb.create_role(f"catalog-other-{lake.id}", policy=READER_POLICY)))
    assert other.get_tables(DatabaseName=lake.raw_db)["TableList"] == []
    with pytest.raises(other.exceptions.AccessDeniedException):
        other.get_table(DatabaseName=lake.raw_db, Name="customer")
