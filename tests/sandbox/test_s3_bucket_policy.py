"""Bucket policies apply with AWS's semantics (moto denies on any unmet condition)."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.sandbox_fixture import SandboxServer

pytestmark = pytest.mark.slow


def test_tls_only_policy_lets_callers_in_and_principal_denies_apply(sandbox_server: SandboxServer) -> None:
    sb = sandbox_server
    s3 = sb.client("s3")
    bucket = "policy-tls-only"
    s3.create_bucket(Bucket=bucket)
    blocked_role = sb.create_role(
        "policy-blocked",
        policy={
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{bucket}/*"}
            ],
        },
    )
    arns = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:*",
                        "Resource": arns,
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    },
                    {
                        "Sid": "BlockRole",
                        "Effect": "Deny",
                        "Principal": {"AWS": blocked_role},
                        "Action": "s3:PutObject",
                        "Resource": arns[1],
                    },
                ],
            }
        ),
    )
    s3.put_object(Bucket=bucket, Key="ok.txt", Body=b"fine")
    assert s3.get_object(Bucket=bucket, Key="ok.txt")["Body"].read() == b"fine"
    blocked = sb.client("s3", sb.assume(blocked_role))
    with pytest.raises(ClientError) as denied:
        blocked.put_object(Bucket=bucket, Key="no.txt", Body=b"x")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert blocked.get_object(Bucket=bucket, Key="ok.txt")["Body"].read() == b"fine"
