"""AWS services act as their roles in the sandbox, and the stack's policies give each role what it needs.

Each test pairs the stack's real policy (dcp.stack.policies) with the same policy missing the piece
a stack fix added, and shows the service step failing the way AWS fails it without that piece.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from dcp.aws.session import AwsContext
from dcp.config import load_settings
from dcp.names import StackNames
from dcp.pipeline.errors import PipelineError
from dcp.pipeline.scan import wait_job
from dcp.pipeline.waiting import Deadline
from dcp.sandbox.identity import Principal
from dcp.sandbox.inprocess import sandbox_in_process
from dcp.stack import policies
from tests.sandbox_fixture import SERVICE_POLICY, SandboxServer, wait_for

pytestmark = pytest.mark.slow

ACCOUNT = "123456789012"
REGION = "us-east-1"
CARDS = b"id,name,card_number\n1,Ann Lee,4111111111111111\n2,Bo Chan,5500000000000004\n"


def names() -> StackNames:
    return StackNames.of(load_settings(None), ACCOUNT, REGION)


def without(doc: dict[str, Any], sid: str) -> dict[str, Any]:
    return {**doc, "Statement": [s for s in doc["Statement"] if s.get("Sid") != sid]}


def _macie_job(sb: SandboxServer, bucket: str) -> str:
    job: str = sb.client("macie2").create_classification_job(
        clientToken=secrets.token_hex(4),
        jobType="ONE_TIME",
        name=f"job-{bucket}",
        managedDataIdentifierSelector="ALL",
        s3JobDefinition={"bucketDefinitions": [{"accountId": ACCOUNT, "buckets": [bucket]}]},
    )["jobId"]
    return job


@pytest.mark.parametrize("macie_statement", [True, False], ids=["stack-key-policy", "without-macie"])
def test_macie_reads_as_its_service_linked_role_and_scan_fails_on_skipped_objects(
    sandbox_server: SandboxServer, macie_statement: bool
) -> None:
    sb = sandbox_server
    doc = policies.bucket_key_policy(names())
    if not macie_statement:
        doc = without(doc, "MacieDecrypt")
    key = sb.client("kms").create_key(Policy=json.dumps(doc))["KeyMetadata"]["Arn"]
    bucket = f"macie-sse-{secrets.token_hex(4)}"
    s3 = sb.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(
        Bucket=bucket, Key="dataset/card/LOAD00000001.csv", Body=CARDS, ServerSideEncryption="aws:kms", SSEKMSKeyId=key
    )
    job_id = _macie_job(sb, bucket)
    aws = AwsContext.create(
        region=REGION, endpoint_url=sb.url, credentials={"AccessKeyId": "testing", "SecretAccessKey": "testing"}
    )
    if macie_statement:
        job = wait_job(aws, job_id, Deadline("macie job", 60))
        assert job["lastRunErrorStatus"]["code"] == "NONE"
        assert sb.client("macie2").list_findings(
            findingCriteria={"criterion": {"classificationDetails.jobId": {"eq": [job_id]}}}
        )["findingIds"]
    else:
        with pytest.raises(PipelineError, match="skipped objects it could not read or decrypt"):
            wait_job(aws, job_id, Deadline("macie job", 60))
        described = sb.client("macie2").describe_classification_job(jobId=job_id)
        assert described["lastRunErrorStatus"]["code"] == "ERROR"


def test_dms_writes_as_its_role_and_needs_tagging_and_the_key(tmp_path: Path) -> None:
    from dcp.sandbox.emulators.dms.models import ReplicationError
    from dcp.sandbox.emulators.dms.service import RoleWriter

    with sandbox_in_process():
        iam, kms, s3 = (boto3.client(s, region_name=REGION) for s in ("iam", "kms", "s3"))
        stack = names()
        key = kms.create_key()["KeyMetadata"]["Arn"]
        s3.create_bucket(Bucket=stack.raw_bucket)
        trust = json.dumps(policies.service_trust("dms.amazonaws.com"))
        path = tmp_path / "LOAD00000001.csv"
        path.write_bytes(CARDS)
        for role, doc in (
            ("dms-fixed", policies.dms_s3_policy(stack, key)),
            (
                "dms-old",
                {
                    **policies.dms_s3_policy(stack, key),
                    "Statement": [
                        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "*"},
                        {"Effect": "Allow", "Action": ["kms:GenerateDataKey"], "Resource": key},
                    ],
                },
            ),
        ):
            arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps(doc))
            settings = {"ServiceAccessRoleArn": arn, "EncryptionMode": "SSE_KMS", "ServerSideEncryptionKmsKeyId": key}
            writer = RoleWriter(ACCOUNT, REGION, settings)
            target = f"dms/dataset/card/{role}.csv"
            if role == "dms-fixed":
                writer.upload(stack.raw_bucket, target, path)
                head = s3.head_object(Bucket=stack.raw_bucket, Key=target)
                assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key
            else:
                with pytest.raises(ReplicationError, match=r"AccessDenied: .*s3:PutObjectTagging"):
                    writer.upload(stack.raw_bucket, target, path)


def _crawl(sb: SandboxServer, crawler: str) -> dict[str, Any]:
    glue = sb.client("glue")
    wait_for(lambda: glue.get_crawler(Name=crawler)["Crawler"]["State"] == "READY", 60, "crawler ready")
    before = glue.get_crawler(Name=crawler)["Crawler"].get("LastCrawl", {}).get("StartTime")
    glue.start_crawler(Name=crawler)

    def finished() -> bool:
        c = glue.get_crawler(Name=crawler)["Crawler"]
        return c["State"] == "READY" and c.get("LastCrawl", {}).get("StartTime") not in (None, before)

    wait_for(finished, 60, "crawl")
    last: dict[str, Any] = glue.get_crawler(Name=crawler)["Crawler"]["LastCrawl"]
    return last


def test_crawler_needs_its_role_and_data_location_access_in_a_registered_location(
    sandbox_server: SandboxServer,
) -> None:
    sb, tag = sandbox_server, secrets.token_hex(4)
    bucket = f"crawl-loc-{tag}"
    s3, glue, lf = sb.client("s3"), sb.client("glue"), sb.client("lakeformation")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="masked/customer/part-0.csv", Body=b"id,city\n1,Oslo\n")
    weak = sb.create_role(f"crawl-weak-{tag}", service="glue.amazonaws.com")
    role = sb.create_role(f"crawl-role-{tag}", service="glue.amazonaws.com", policy=SERVICE_POLICY)
    for name, arn in (("weak", weak), ("strong", role)):
        glue.create_crawler(
            Name=f"c-{name}-{tag}",
            Role=arn,
            DatabaseName=f"db_{tag}",
            Targets={"S3Targets": [{"Path": f"s3://{bucket}/masked/"}]},
        )
    # No S3 rights: the crawl fails with S3's AccessDenied.
    failed = _crawl(sb, f"c-weak-{tag}")
    assert failed["Status"] == "FAILED" and "s3:ListBucket" in failed["ErrorMessage"]
    # A registered location needs DATA_LOCATION_ACCESS as well ...
    location = f"arn:aws:s3:::{bucket}"
    lf.register_resource(ResourceArn=location, RoleArn=role)
    refused = _crawl(sb, f"c-strong-{tag}")
    assert refused["Status"] == "FAILED" and "DATA_LOCATION_ACCESS" in refused["ErrorMessage"]
    # ... which, granted, lets the crawler create the table.
    lf.grant_permissions(
        Principal={"DataLakePrincipalIdentifier": role},
        Resource={"DataLocation": {"ResourceArn": location}},
        Permissions=["DATA_LOCATION_ACCESS"],
    )
    time.sleep(0.05)
    assert _crawl(sb, f"c-strong-{tag}")["Status"] == "SUCCEEDED"
    assert glue.get_table(DatabaseName=f"db_{tag}", Name="customer")["Table"]["Name"] == "customer"


def test_registered_locations_are_read_with_the_registering_role_which_needs_the_key() -> None:
    """The stack registers its zones with a role that may use the bucket key; the LF service-linked
    role may not, and a persona reads an unregistered location with its own IAM rights."""
    from dcp.sandbox.locations import can_read_location

    with sandbox_in_process():
        iam, kms, s3, lf = (boto3.client(s, region_name=REGION) for s in ("iam", "kms", "s3", "lakeformation"))
        stack = names()
        key = kms.create_key(Policy=json.dumps(policies.bucket_key_policy(stack)))["KeyMetadata"]["Arn"]
        for bucket in (stack.raw_bucket, stack.curated_bucket):
            s3.create_bucket(Bucket=bucket)
            s3.put_object(
                Bucket=bucket,
                Key="dataset/card/LOAD00000001.csv",
                Body=CARDS,
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=key,
            )
        trust = json.dumps(policies.service_trust("lakeformation.amazonaws.com"))
        role = iam.create_role(RoleName=stack.role("lf-location"), AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName=stack.role("lf-location"),
            PolicyName="p",
            PolicyDocument=json.dumps(policies.lf_location_policy(stack, key)),
        )
        persona_trust = json.dumps(policies.account_trust(stack))
        persona_arn = iam.create_role(RoleName="persona", AssumeRolePolicyDocument=persona_trust)["Role"]["Arn"]
        iam.put_role_policy(
            RoleName="persona",
            PolicyName="p",
            PolicyDocument=json.dumps(policies.persona_policy(stack, key, "analyst")),
        )
        persona = Principal(
            arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/persona/s",
            account=ACCOUNT,
            kind="assumed-role",
            role_name="persona",
            role_arn=persona_arn,
        )
        raw, curated = (f"s3://{b}/dataset/card/" for b in (stack.raw_bucket, stack.curated_bucket))

        # Unregistered: the persona's own IAM rights, which give no raw objects.
        assert "s3:ListBucket" in (can_read_location(persona, raw, ACCOUNT, REGION) or "")
        # Registered with Lake Formation's service-linked role: S3 yes, the bucket key no.
        lf.register_resource(ResourceArn=f"arn:aws:s3:::{stack.raw_bucket}", UseServiceLinkedRole=True)
        denied = can_read_location(persona, raw, ACCOUNT, REGION) or ""
        assert "AWSServiceRoleForLakeFormationDataAccess" in denied and "kms:Decrypt" in denied
        # Registered with the stack's location role: readable.
        lf.deregister_resource(ResourceArn=f"arn:aws:s3:::{stack.raw_bucket}")
        for bucket in (stack.raw_bucket, stack.curated_bucket):
            lf.register_resource(ResourceArn=f"arn:aws:s3:::{bucket}", RoleArn=role)
        assert can_read_location(persona, raw, ACCOUNT, REGION) is None
        assert can_read_location(persona, curated, ACCOUNT, REGION) is None


def test_only_personas_that_see_the_encrypted_copy_may_fetch_its_objects(sandbox_server: SandboxServer) -> None:
    """`dcp reveal` reads encrypted/ with the persona's rights; masked/ and raw stay Lake Formation's."""
    sb, stack = sandbox_server, names()
    key = sb.client("kms").create_key()["KeyMetadata"]["Arn"]
    s3 = sb.client("s3")
    s3.create_bucket(Bucket=stack.curated_bucket)
    for prefix in ("encrypted", "masked"):
        s3.put_object(Bucket=stack.curated_bucket, Key=f"{prefix}/card/part-0.parquet", Body=b"x")
    tag = secrets.token_hex(4)
    reader = sb.client(
        "s3",
        sb.assume(
            sb.create_role(
                f"cipher-{tag}", policy=policies.persona_policy(stack, key, "ml-training", reads_ciphertext=True)
            )
        ),
    )
    other = sb.client(
        "s3", sb.assume(sb.create_role(f"plain-{tag}", policy=policies.persona_policy(stack, key, "analyst")))
    )
    listed = reader.list_objects_v2(Bucket=stack.curated_bucket, Prefix="encrypted/card/")["Contents"]
    assert [o["Key"] for o in listed] == ["encrypted/card/part-0.parquet"]
    assert reader.get_object(Bucket=stack.curated_bucket, Key="encrypted/card/part-0.parquet")["Body"].read() == b"x"
    for attempt in (
        lambda: reader.list_objects_v2(Bucket=stack.curated_bucket, Prefix="masked/"),
        lambda: reader.get_object(Bucket=stack.curated_bucket, Key="masked/card/part-0.parquet"),
        lambda: other.get_object(Bucket=stack.curated_bucket, Key="encrypted/card/part-0.parquet"),
    ):
        with pytest.raises(Exception, match="AccessDenied"):
            attempt()


@pytest.mark.parametrize("statement", [True, False], ids=["stack-policy", "without-crawl-outputs"])
def test_the_job_role_may_crawl_only_the_output_zones(sandbox_server: SandboxServer, statement: bool) -> None:
    """The job starts the masked and encrypted crawlers (dcp/gluejob/crawl.py) and nothing else:
    StartCrawler/GetCrawler on those two, by the CrawlOutputs statement; never the raw crawler."""
    sb, stack = sandbox_server, names()
    key = sb.client("kms").create_key()["KeyMetadata"]["Arn"]
    doc = policies.glue_policy(stack, key)
    role = sb.create_role(
        f"glue-crawl-{secrets.token_hex(4)}", policy=doc if statement else without(doc, "CrawlOutputs")
    )
    glue = sb.client("glue", sb.assume(role))
    # The crawlers do not exist: a call the role may make reaches Glue (EntityNotFound); one it may
    # not make stops at IAM (AccessDenied), as on AWS, where authorization comes first.
    for call in (
        lambda: glue.get_crawler(Name=stack.crawler("masked")),
        lambda: glue.start_crawler(Name=stack.crawler("encrypted")),
    ):
        with pytest.raises(Exception, match="EntityNotFound" if statement else "AccessDenied"):
            call()
    with pytest.raises(Exception, match="AccessDenied"):
        glue.start_crawler(Name=stack.crawler("raw"))
