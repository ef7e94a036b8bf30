"""`dcp up` against an existing sandbox updates definitions in place: the Update*/Modify* operations
moto lacks (Glue jobs, crawlers, triggers; DMS endpoints, tasks, subnet groups, tags; Athena
workgroups; Macie session and tags) change what the matching Get/Describe returns, as in AWS."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from dcp.sandbox.inprocess import sandbox_in_process

pytestmark = pytest.mark.slow

ROLE = "arn:aws:iam::123456789012:role/glue"


@pytest.fixture
def sandbox() -> Iterator[None]:
    with sandbox_in_process():
        yield


def client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1")  # type: ignore[call-overload]


def test_update_job_replaces_arguments_and_workers(sandbox: None) -> None:
    glue = client("glue")
    glue.create_job(
        Name="mask",
        Role=ROLE,
        Command={"Name": "glueetl", "ScriptLocation": "s3://b/glue/mask_pii.py"},
        DefaultArguments={"--table": "customer", "--old": "x"},
        GlueVersion="4.0",
        WorkerType="G.1X",
        NumberOfWorkers=2,
    )
    before = glue.get_job(JobName="mask")["Job"]["LastModifiedOn"]
    out = glue.update_job(
        JobName="mask",
        JobUpdate={
            "Role": ROLE,
            "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/glue/mask_pii.py"},
            "DefaultArguments": {"--table": "card"},
            "GlueVersion": "4.0",
            "WorkerType": "G.2X",
            "NumberOfWorkers": 5,
        },
    )
    assert out["JobName"] == "mask"
    job = glue.get_job(JobName="mask")["Job"]
    assert job["DefaultArguments"] == {"--table": "card"}  # replaced, not merged
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.2X", 5)
    assert job["LastModifiedOn"] >= before
    with pytest.raises(ClientError) as err:
        glue.update_job(JobName="missing", JobUpdate={"Role": ROLE})
    assert err.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_update_crawler_changes_only_the_given_members(sandbox: None) -> None:
    glue = client("glue")
    glue.create_database(DatabaseInput={"Name": "raw"})
    glue.create_crawler(
        Name="raw-crawler",
        Role=ROLE,
        DatabaseName="raw",
        TablePrefix="raw_",
        Targets={"S3Targets": [{"Path": "s3://b/dataset/"}]},
    )
    glue.update_crawler(Name="raw-crawler", Targets={"S3Targets": [{"Path": "s3://b2/dataset/"}]})
    crawler = glue.get_crawler(Name="raw-crawler")["Crawler"]
    assert crawler["Targets"]["S3Targets"] == [{"Path": "s3://b2/dataset/"}]
    assert (crawler["DatabaseName"], crawler["TablePrefix"], crawler["Version"]) == ("raw", "raw_", 2)
    with pytest.raises(ClientError) as err:
        glue.update_crawler(Name="missing", Role=ROLE)
    assert err.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_update_trigger_replaces_actions_and_predicate(sandbox: None) -> None:
    glue = client("glue")
    glue.create_workflow(Name="wf")
    glue.create_trigger(
        Name="after-crawl",
        WorkflowName="wf",
        Type="CONDITIONAL",
        Predicate={
            "Logical": "ANY",
            "Conditions": [{"LogicalOperator": "EQUALS", "CrawlerName": "a", "CrawlState": "SUCCEEDED"}],
        },
        Actions=[{"JobName": "mask"}],
        StartOnCreation=True,
    )
    out = glue.update_trigger(
        Name="after-crawl",
        TriggerUpdate={
            "Actions": [{"JobName": "mask", "Arguments": {"--table": "card"}}],
            "Predicate": {"Conditions": [{"LogicalOperator": "EQUALS", "CrawlerName": "b", "CrawlState": "SUCCEEDED"}]},
        },
    )
    trigger = glue.get_trigger(Name="after-crawl")["Trigger"]
    assert out["Trigger"]["Actions"] == trigger["Actions"] == [{"JobName": "mask", "Arguments": {"--table": "card"}}]
    assert trigger["Predicate"]["Conditions"][0]["CrawlerName"] == "b"
    assert trigger["Predicate"]["Logical"] == "AND"  # Glue's default
    assert (trigger["Type"], trigger["State"], trigger["WorkflowName"]) == ("CONDITIONAL", "ACTIVATED", "wf")
    with pytest.raises(ClientError) as err:
        glue.update_trigger(Name="after-crawl", TriggerUpdate={"Actions": [{"JobName": "j", "CrawlerName": "c"}]})
    assert err.value.response["Error"]["Code"] == "InvalidInputException"


def test_dms_modify_endpoint_task_subnet_group_and_tags(sandbox: None) -> None:
    dms = client("dms")
    src = dms.create_endpoint(
        EndpointIdentifier="src",
        EndpointType="source",
        EngineName="postgres",
        ServerName="old-host",
        Port=5432,
        DatabaseName="dataset",
        Username="u",
        Password="p",
    )["Endpoint"]["EndpointArn"]
    tgt = dms.create_endpoint(
        EndpointIdentifier="tgt",
        EndpointType="target",
        EngineName="s3",
        S3Settings={"BucketName": "raw", "AddColumnName": True},
    )["Endpoint"]["EndpointArn"]
    modified = dms.modify_endpoint(EndpointArn=src, ServerName="new-host", Password="p2")["Endpoint"]
    assert modified["ServerName"] == "new-host" and "Password" not in modified
    dms.modify_endpoint(EndpointArn=tgt, S3Settings={"BucketName": "raw2"})
    endpoints = {e["EndpointIdentifier"]: e for e in dms.describe_endpoints()["Endpoints"]}
    assert endpoints["src"]["DatabaseName"] == "dataset"
    assert endpoints["tgt"]["S3Settings"] == {"BucketName": "raw2", "AddColumnName": True}  # merged

    ri = dms.create_replication_instance(ReplicationInstanceIdentifier="ri", ReplicationInstanceClass="dms.t3.micro")[
        "ReplicationInstance"
    ]["ReplicationInstanceArn"]
    task = dms.create_replication_task(
        ReplicationTaskIdentifier="task",
        SourceEndpointArn=src,
        TargetEndpointArn=tgt,
        ReplicationInstanceArn=ri,
        MigrationType="full-load",
        TableMappings=json.dumps({"rules": []}),
    )["ReplicationTask"]["ReplicationTaskArn"]
    mappings = json.dumps({"rules": [{"rule-type": "selection", "rule-id": "1", "rule-name": "1"}]})
    dms.modify_replication_task(ReplicationTaskArn=task, MigrationType="full-load-and-cdc", TableMappings=mappings)
    described = dms.describe_replication_tasks()["ReplicationTasks"][0]
    assert (described["MigrationType"], described["TableMappings"]) == ("full-load-and-cdc", mappings)

    dms.add_tags_to_resource(ResourceArn=task, Tags=[{"Key": "dcp:stack", "Value": "demo"}])
    tags = dms.list_tags_for_resource(ResourceArn=task)["TagList"]
    assert [(t["Key"], t["Value"]) for t in tags] == [("dcp:stack", "demo")]

    dms.create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier="sg", ReplicationSubnetGroupDescription="d", SubnetIds=["subnet-1"]
    )
    group = dms.modify_replication_subnet_group(ReplicationSubnetGroupIdentifier="sg", SubnetIds=["subnet-2"])
    assert group["ReplicationSubnetGroup"]["ReplicationSubnetGroupIdentifier"] == "sg"
    with pytest.raises(ClientError) as err:
        dms.modify_endpoint(EndpointArn=src.replace("endpoint:", "endpoint:x"), Port=1)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundFault"


def test_athena_update_work_group_merges_result_configuration(sandbox: None) -> None:
    athena = client("athena")
    athena.create_work_group(
        Name="dcp",
        Configuration={
            "ResultConfiguration": {
                "OutputLocation": "s3://old/results/",
                "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
            },
            "EnforceWorkGroupConfiguration": False,
            "BytesScannedCutoffPerQuery": 10_000_000,
        },
    )
    athena.update_work_group(
        WorkGroup="dcp",
        Description="new",
        ConfigurationUpdates={
            "ResultConfigurationUpdates": {"OutputLocation": "s3://new/results/"},
            "EnforceWorkGroupConfiguration": True,
            "RemoveBytesScannedCutoffPerQuery": True,
        },
    )
    wg = athena.get_work_group(WorkGroup="dcp")["WorkGroup"]
    config = wg["Configuration"]
    assert config["ResultConfiguration"] == {
        "OutputLocation": "s3://new/results/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }
    assert config["EnforceWorkGroupConfiguration"] is True
    assert "BytesScannedCutoffPerQuery" not in config
    assert wg["Description"] == "new"


def test_macie_session_and_custom_identifier_tags(sandbox: None) -> None:
    macie = client("macie2")
    macie.update_macie_session(status="PAUSED", findingPublishingFrequency="ONE_HOUR")
    session = macie.get_macie_session()
    assert (session["status"], session["findingPublishingFrequency"]) == ("PAUSED", "ONE_HOUR")
    arn = macie.create_custom_data_identifier(name="acct", regex=r"XYZ-\d+", tags={"a": "1"})["customDataIdentifierId"]
    arn = macie.get_custom_data_identifier(id=arn)["arn"]
    macie.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert macie.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}


def test_macie_job_rejects_an_unknown_selector_and_honours_include(sandbox: None) -> None:
    s3, macie = client("s3"), client("macie2")
    s3.create_bucket(Bucket="raw")
    s3.put_object(
        Bucket="raw",
        Key="dataset/customer/LOAD00000001.csv",
        Body=b"id,email,card\n1,ann@example.com,4111111111111111\n2,bob@example.com,5500005555555559\n",
    )
    definition = {"bucketDefinitions": [{"accountId": "123456789012", "buckets": ["raw"]}]}
    with pytest.raises(ClientError) as err:
        macie.create_classification_job(
            clientToken="bad",
            jobType="ONE_TIME",
            name="bad",
            managedDataIdentifierSelector="SOME",
            s3JobDefinition=definition,
        )
    assert err.value.response["Error"]["Code"] == "ValidationException"
    job = macie.create_classification_job(
        clientToken="c",
        jobType="ONE_TIME",
        name="j",
        managedDataIdentifierSelector="INCLUDE",
        managedDataIdentifierIds=["email_address"],
        s3JobDefinition=definition,
    )["jobId"]
    deadline = time.monotonic() + 20
    while macie.describe_classification_job(jobId=job)["jobStatus"] != "COMPLETE":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    ids = macie.list_findings()["findingIds"]
    findings = macie.get_findings(findingIds=ids)["findings"]
    detected = {
        d["type"] for f in findings for d in f["classificationDetails"]["result"]["sensitiveData"][0]["detections"]
    }
    assert detected == {"EMAIL_ADDRESS"}


def test_untagged_database_has_an_empty_lf_tag_list(sandbox: None) -> None:
    client("glue").create_database(DatabaseInput={"Name": "dataset"})
    out = client("lakeformation").get_resource_lf_tags(Resource={"Database": {"Name": "dataset"}})
    assert out["LFTagOnDatabase"] == []
