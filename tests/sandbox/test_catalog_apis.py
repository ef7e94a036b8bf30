"""Glue and Lake Formation catalog reads: paging, SearchTables, LF-tag searches, ListPermissions filters."""

from __future__ import annotations

import uuid

import pytest

from tests.sandbox_fixture import SandboxServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def catalog(sandbox_server: SandboxServer) -> str:
    glue, lf = sandbox_server.client("glue"), sandbox_server.client("lakeformation")
    db = f"cat_{uuid.uuid4().hex[:6]}"
    glue.create_database(DatabaseInput={"Name": db})
    for name in ("alpha", "beta", "gamma"):
        glue.create_table(
            DatabaseName=db,
            TableInput={
                "Name": name,
                "Description": f"the {name} table",
                "StorageDescriptor": {
                    "Columns": [{"Name": "id", "Type": "int"}, {"Name": f"{name}_secret", "Type": "string"}],
                    "Location": f"s3://cat-bucket/{db}/{name}/",
                },
            },
        )
    key = f"zone{uuid.uuid4().hex[:4]}"
    lf.create_lf_tag(TagKey=key, TagValues=["raw", "masked"])
    lf.add_lf_tags_to_resource(Resource={"Database": {"Name": db}}, LFTags=[{"TagKey": key, "TagValues": ["raw"]}])
    lf.add_lf_tags_to_resource(
        Resource={"Table": {"DatabaseName": db, "Name": "beta"}}, LFTags=[{"TagKey": key, "TagValues": ["masked"]}]
    )
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": "arn:aws:iam::123456789012:role/cat-analyst"},
        Resource={"LFTagPolicy": {"ResourceType": "TABLE", "Expression": [{"TagKey": key, "TagValues": ["masked"]}]}},
        Permissions=["SELECT"],
    )
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": "arn:aws:iam::123456789012:role/cat-admin"},
        Resource={"Table": {"DatabaseName": db, "Name": "alpha"}},
        Permissions=["SELECT", "DESCRIBE"],
    )
    return f"{db}|{key}"


def test_get_tables_pages_by_max_results(sandbox_server: SandboxServer, catalog: str) -> None:
    db = catalog.split("|")[0]
    glue = sandbox_server.client("glue")
    first = glue.get_tables(DatabaseName=db, MaxResults=2)
    assert [t["Name"] for t in first["TableList"]] == ["alpha", "beta"]
    second = glue.get_tables(DatabaseName=db, MaxResults=2, NextToken=first["NextToken"])
    assert [t["Name"] for t in second["TableList"]] == ["gamma"] and "NextToken" not in second
    paginated = glue.get_paginator("get_tables").paginate(DatabaseName=db, PaginationConfig={"PageSize": 1})
    assert [t["Name"] for page in paginated for t in page["TableList"]] == ["alpha", "beta", "gamma"]
    assert [t["Name"] for t in glue.get_tables(DatabaseName=db, Expression="g.*")["TableList"]] == ["gamma"]


def test_search_tables_matches_text_and_filters(sandbox_server: SandboxServer, catalog: str) -> None:
    db = catalog.split("|")[0]
    glue = sandbox_server.client("glue")
    found = glue.search_tables(SearchText="beta_secret")["TableList"]
    assert [(t["DatabaseName"], t["Name"]) for t in found] == [(db, "beta")]
    filtered = glue.search_tables(Filters=[{"Key": "DatabaseName", "Value": db, "Comparator": "EQUALS"}], MaxResults=2)
    assert len(filtered["TableList"]) == 2 and filtered["NextToken"]


def test_lake_formation_searches_by_lf_tags(sandbox_server: SandboxServer, catalog: str) -> None:
    db, key = catalog.split("|")
    lf = sandbox_server.client("lakeformation")
    masked = lf.search_tables_by_lf_tags(Expression=[{"TagKey": key, "TagValues": ["masked"]}])["TableList"]
    assert [t["Table"]["Name"] for t in masked] == ["beta"]
    assert masked[0]["LFTagsOnTable"] == [{"CatalogId": "123456789012", "TagKey": key, "TagValues": ["masked"]}]
    raw = lf.search_tables_by_lf_tags(Expression=[{"TagKey": key, "TagValues": ["raw"]}])["TableList"]
    assert {t["Table"]["Name"] for t in raw} == {"alpha", "gamma"}  # inherited from the database
    databases = lf.search_databases_by_lf_tags(Expression=[{"TagKey": key, "TagValues": ["raw"]}])["DatabaseList"]
    assert [d["Database"]["Name"] for d in databases] == [db]


def test_list_permissions_filters_and_effective_permissions(sandbox_server: SandboxServer, catalog: str) -> None:
    db = catalog.split("|")[0]
    lf = sandbox_server.client("lakeformation")
    policies = lf.list_permissions(ResourceType="LF_TAG_POLICY")["PrincipalResourcePermissions"]
    assert "arn:aws:iam::123456789012:role/cat-analyst" in {
        p["Principal"]["DataLakePrincipalIdentifier"] for p in policies
    }
    on_alpha = lf.list_permissions(
        Principal={"DataLakePrincipalIdentifier": "arn:aws:iam::123456789012:role/cat-admin"},
        Resource={"Table": {"DatabaseName": db, "Name": "alpha"}},
    )["PrincipalResourcePermissions"]
    assert len(on_alpha) == 1 and set(on_alpha[0]["Permissions"]) == {"SELECT", "DESCRIBE"}
    paged = lf.list_permissions(MaxResults=1)
    assert len(paged["PrincipalResourcePermissions"]) == 1 and paged["NextToken"]
    effective = lf.get_effective_permissions_for_path(ResourceArn=f"arn:aws:s3:::cat-bucket/{db}/alpha")["Permissions"]
    assert [p["Resource"]["Table"]["Name"] for p in effective] == ["alpha"]


def test_a_crawl_is_seen_running_then_ready_with_its_last_crawl(sandbox_server: SandboxServer) -> None:
    from tests.sandbox_fixture import wait_for

    s3, glue = sandbox_server.client("s3"), sandbox_server.client("glue")
    bucket = f"crawl-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="data/t/part.csv", Body=b"id,name\n1,a\n")
    db = f"crawled_{uuid.uuid4().hex[:6]}"
    glue.create_database(DatabaseInput={"Name": db})
    name = f"crawler-{uuid.uuid4().hex[:6]}"
    from tests.sandbox_fixture import SERVICE_POLICY

    role = sandbox_server.create_role(f"glue-{uuid.uuid4().hex[:6]}", "glue.amazonaws.com", policy=SERVICE_POLICY)
    glue.create_crawler(
        Name=name, Role=role, DatabaseName=db, Targets={"S3Targets": [{"Path": f"s3://{bucket}/data/"}]}
    )
    assert glue.get_crawler(Name=name)["Crawler"]["State"] == "READY"
    glue.start_crawler(Name=name)
    assert glue.get_crawler(Name=name)["Crawler"]["State"] == "RUNNING"
    seen = {glue.get_crawler(Name=name)["Crawler"]["State"]}
    crawler = wait_for(
        lambda: (
            (c := glue.get_crawler(Name=name)["Crawler"], seen.add(c["State"]))[0]["State"] == "READY"
            and glue.get_crawler(Name=name)["Crawler"]
        ),
        what="the crawler",
    )
    assert crawler["LastCrawl"]["Status"] == "SUCCEEDED"
    assert "RUNNING" in seen


def test_rds_reports_the_default_engine_version(sandbox_server: SandboxServer) -> None:
    rds = sandbox_server.client("rds")
    instance = f"eng-{uuid.uuid4().hex[:6]}"
    created = rds.create_db_instance(
        DBInstanceIdentifier=instance,
        Engine="mysql",
        DBInstanceClass="db.t3.micro",
        MasterUsername="admin",
        MasterUserPassword="secret-password-1",
        AllocatedStorage=20,
    )["DBInstance"]
    assert created["Engine"] == "mysql"
    described = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]
    # RDS's default (MySQL 8.0's standard support ended 2026-07-31), and what DefaultOnly says
    default = rds.describe_db_engine_versions(Engine="mysql", DefaultOnly=True)["DBEngineVersions"][0]
    assert described["EngineVersion"] == default["EngineVersion"] and described["EngineVersion"].startswith("8.4.")
    rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)
