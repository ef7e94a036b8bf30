"""S3: the stack's buckets (encryption, TLS-only policy, access logging, versioning), objects, notifications.

Encryption: every bucket uses SSE-KMS with the bucket key and S3 Bucket Keys, except the
access-logs bucket, which uses SSE-S3 (AES256): S3 server access logging can deliver logs
only to a target bucket whose default encryption is SSE-S3; SSE-KMS is not supported for the
target bucket (Amazon S3 User Guide, "Enabling Amazon S3 server access logging").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.policies import macie_source_condition
from dcp.stack.refs import PENDING, Refs
from dcp.stack.resources.base import Resource, tag_dict, tag_list, tags_match

NO_BUCKET = ("NoSuchBucket", "404", "NotFound")

#: Buckets whose objects are worth keeping older versions of.
VERSIONED = frozenset({"raw", "findings", "curated", "assets"})


def tls_only_statement(bucket: str, partition: str) -> dict[str, Any]:
    arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def macie_results_statements(bucket: str, names: Any) -> list[dict[str, Any]]:
    """Macie may find the bucket's region and put its discovery results under their prefix."""
    arn = f"arn:{names.partition}:s3:::{bucket}"
    macie = {"Service": "macie.amazonaws.com"}
    condition = macie_source_condition(names)
    return [
        {
            "Sid": "MacieGetBucketLocation",
            "Effect": "Allow",
            "Principal": macie,
            "Action": "s3:GetBucketLocation",
            "Resource": arn,
            "Condition": condition,
        },
        {
            "Sid": "MaciePutDiscoveryResults",
            "Effect": "Allow",
            "Principal": macie,
            "Action": "s3:PutObject",
            "Resource": f"{arn}/{names.DISCOVERY_RESULTS_PREFIX}*",
            "Condition": condition,
        },
    ]


class Bucket(Resource):
    kind = "s3.bucket"

    def __init__(self, bucket_kind: str, refs: Refs, depends_on: Sequence[Resource] = ()) -> None:
        super().__init__(f"bucket-{bucket_kind}", refs.names.bucket(bucket_kind), refs, depends_on)
        self.bucket_kind = bucket_kind

    @property
    def is_logs(self) -> bool:
        return self.bucket_kind == "logs"

    def policy(self) -> dict[str, Any]:
        statements = [tls_only_statement(self.physical, self.names.partition)]
        if self.is_logs:
            statements.append(
                {
                    "Sid": "S3ServerAccessLogs",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"arn:{self.names.partition}:s3:::{self.physical}/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": self.names.account_id}},
                }
            )
        if self.bucket_kind == "findings":
            statements += macie_results_statements(self.physical, self.names)
        return {"Version": "2012-10-17", "Statement": statements}

    def encryption(self) -> dict[str, Any]:
        if self.is_logs:
            return {"SSEAlgorithm": "AES256", "BucketKeyEnabled": False}
        key = self.refs.key_arn(self.names.bucket_key_alias) or PENDING
        return {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key, "BucketKeyEnabled": True}

    def desired(self) -> dict[str, Any]:
        return {
            "tags": self.tags,
            "public_access_block": dict.fromkeys(
                ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
            ),
            "encryption": self.encryption(),
            "versioning": "Enabled" if self.bucket_kind in VERSIONED else "Off",
            "policy": self.policy(),
            "logging": None if self.is_logs else {"bucket": self.names.logs_bucket, "prefix": f"{self.bucket_kind}/"},
        }

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        s3 = ctx.client("s3")
        name = self.physical
        if absent_on(*NO_BUCKET)(lambda: s3.head_bucket(Bucket=name)) is None:
            return None
        tags = absent_on("NoSuchTagSet")(lambda: s3.get_bucket_tagging(Bucket=name)["TagSet"])
        pab = absent_on("NoSuchPublicAccessBlockConfiguration")(
            lambda: s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        )
        enc = absent_on("ServerSideEncryptionConfigurationNotFoundError")(
            lambda: s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
        )
        encryption = None
        if enc:
            default = enc.get("ApplyServerSideEncryptionByDefault", {})
            encryption = {
                "SSEAlgorithm": default.get("SSEAlgorithm"),
                "BucketKeyEnabled": bool(enc.get("BucketKeyEnabled")),
            }
            if default.get("KMSMasterKeyID"):
                encryption["KMSMasterKeyID"] = default["KMSMasterKeyID"]
        versioning = s3.get_bucket_versioning(Bucket=name).get("Status", "Off")
        policy = absent_on("NoSuchBucketPolicy")(lambda: s3.get_bucket_policy(Bucket=name)["Policy"])
        logging = s3.get_bucket_logging(Bucket=name).get("LoggingEnabled")
        return {
            "tags": tags_match(self.tags, tag_dict(tags)),
            "public_access_block": {k: bool(v) for k, v in (pab or {}).items()},
            "encryption": encryption,
            "versioning": versioning,
            "policy": json.loads(policy) if policy else None,
            "logging": {"bucket": logging["TargetBucket"], "prefix": logging.get("TargetPrefix", "")}
            if logging
            else None,
            "_arn": f"arn:{self.names.partition}:s3:::{name}",
            "_all_tags": tag_dict(tags),
        }

    def create(self, ctx: AwsContext) -> None:
        s3 = ctx.client("s3")
        kwargs: dict[str, Any] = {"Bucket": self.physical}
        if ctx.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": ctx.region}
        # Object ownership "bucket owner enforced" (ACLs off) is the default for new buckets.
        ignore_codes(lambda: s3.create_bucket(**kwargs), "BucketAlreadyOwnedByYou")
        self.update(ctx, {}, list(self.desired()))

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        s3 = ctx.client("s3")
        name = self.physical
        want = self.desired()
        apply: dict[str, Callable[[], Any]] = {
            "public_access_block": lambda: s3.put_public_access_block(
                Bucket=name, PublicAccessBlockConfiguration=want["public_access_block"]
            ),
            "tags": lambda: s3.put_bucket_tagging(
                Bucket=name,
                Tagging={"TagSet": tag_list({**dict(current.get("_all_tags") or {}), **want["tags"]})},
            ),
            "encryption": lambda: s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                k: v for k, v in want["encryption"].items() if k != "BucketKeyEnabled"
                            },
                            "BucketKeyEnabled": want["encryption"]["BucketKeyEnabled"],
                        }
                    ]
                },
            ),
            "versioning": lambda: (
                s3.put_bucket_versioning(
                    Bucket=name,
                    VersioningConfiguration={"Status": "Enabled" if want["versioning"] == "Enabled" else "Suspended"},
                )
                if want["versioning"] == "Enabled" or current.get("versioning") not in (None, "Off")
                else None
            ),
            "policy": lambda: s3.put_bucket_policy(Bucket=name, Policy=json.dumps(want["policy"])),
            "logging": lambda: s3.put_bucket_logging(
                Bucket=name,
                BucketLoggingStatus={
                    "LoggingEnabled": {
                        "TargetBucket": want["logging"]["bucket"],
                        "TargetPrefix": want["logging"]["prefix"],
                    }
                }
                if want["logging"]
                else {},
            ),
        }
        for key in ("public_access_block", "tags", "encryption", "versioning", "policy", "logging"):
            if key in changed:
                apply[key]()

    def delete(self, ctx: AwsContext) -> None:
        empty_bucket(ctx, self.physical)
        ignore_codes(lambda: ctx.client("s3").delete_bucket(Bucket=self.physical), *NO_BUCKET)


def empty_bucket(ctx: AwsContext, bucket: str) -> int:
    """Delete every object version and delete marker; returns how many were deleted."""
    s3 = ctx.client("s3")
    deleted = 0
    try:
        pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        for page in pages:
            keys = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for i in range(0, len(keys), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys[i : i + 1000], "Quiet": True})
                deleted += len(keys[i : i + 1000])
    except Exception as exc:
        if not is_code(exc, *NO_BUCKET):
            raise
    return deleted


class Object(Resource):
    """An object whose content dcp owns (job script, library zip, Lambda code); compared by sha256."""

    kind = "s3.object"

    def __init__(
        self,
        logical: str,
        bucket_kind: str,
        key: str,
        body: Callable[[], bytes],
        refs: Refs,
        depends_on: Sequence[Resource] = (),
    ) -> None:
        self.bucket = refs.names.bucket(bucket_kind)
        super().__init__(logical, f"s3://{self.bucket}/{key}", refs, depends_on)
        self.key = key
        self._body = body
        self._cache: bytes | None = None

    def body(self) -> bytes:
        if self._cache is None:
            self._cache = self._body()
        return self._cache

    def sha256(self) -> str:
        return hashlib.sha256(self.body()).hexdigest()

    def desired(self) -> dict[str, Any]:
        return {"sha256": self.sha256()}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        head = absent_on(*NO_BUCKET, "NoSuchKey")(
            lambda: ctx.client("s3").head_object(Bucket=self.bucket, Key=self.key)
        )
        if head is None:
            return None
        return {
            "sha256": head.get("Metadata", {}).get("sha256"),
            "_arn": self.physical,
            "_state": f"{head.get('ContentLength', 0)} bytes",
        }

    def create(self, ctx: AwsContext) -> None:
        ctx.client("s3").put_object(
            Bucket=self.bucket, Key=self.key, Body=self.body(), Metadata={"sha256": self.sha256()}
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        self.create(ctx)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(lambda: ctx.client("s3").delete_object(Bucket=self.bucket, Key=self.key), *NO_BUCKET)


class LambdaNotification(Resource):
    """The findings bucket's notification: ObjectCreated under findings/ invokes a Lambda."""

    kind = "s3.notification"

    def __init__(
        self, bucket_kind: str, prefix: str, function: str, refs: Refs, depends_on: Sequence[Resource] = ()
    ) -> None:
        bucket = refs.names.bucket(bucket_kind)
        super().__init__(f"notification-{bucket_kind}", bucket, refs, depends_on)
        self.prefix = prefix
        self.function = function

    def function_arn(self) -> str:
        return self.refs.arn("lambda", f"function:{self.function}")

    def desired(self) -> dict[str, Any]:
        return {"lambda": [{"arn": self.function_arn(), "events": ["s3:ObjectCreated:*"], "prefix": self.prefix}]}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        conf = absent_on(*NO_BUCKET)(
            lambda: ctx.client("s3").get_bucket_notification_configuration(Bucket=self.physical)
        )
        if not conf or not conf.get("LambdaFunctionConfigurations"):
            return None
        found = []
        for c in conf["LambdaFunctionConfigurations"]:
            rules = c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            prefix = next((r["Value"] for r in rules if r["Name"].lower() == "prefix"), "")
            found.append({"arn": c["LambdaFunctionArn"], "events": sorted(c["Events"]), "prefix": prefix})
        return {"lambda": found, "_arn": self.physical}

    def create(self, ctx: AwsContext) -> None:
        ctx.client("s3").put_bucket_notification_configuration(
            Bucket=self.physical,
            NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {
                        "Id": "dcp-start-workflow",
                        "LambdaFunctionArn": self.function_arn(),
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": self.prefix}]}},
                    }
                ]
            },
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        self.create(ctx)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("s3").put_bucket_notification_configuration(
                Bucket=self.physical, NotificationConfiguration={}
            ),
            *NO_BUCKET,
        )
