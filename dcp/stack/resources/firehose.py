"""Firehose: the delivery stream writing Macie findings to the findings bucket, one JSON per line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import PENDING, Refs
from dcp.stack.resources.base import Resource, retry_while, tag_dict, tag_list, tags_match, wait_until

GONE = ("ResourceNotFoundException",)


class FindingsStream(Resource):
    kind = "firehose.stream"

    def __init__(self, refs: Refs, depends_on: Sequence[Resource]) -> None:
        super().__init__("findings-stream", refs.names.firehose_stream, refs, depends_on)

    def destination(self) -> dict[str, Any]:
        key = self.refs.key_arn(self.names.bucket_key_alias) or PENDING
        return {
            "RoleARN": self.names.role_arn("firehose"),
            "BucketARN": self.refs.bucket_arn("findings"),
            "Prefix": self.names.FINDINGS_PREFIX,
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
            "CompressionFormat": "UNCOMPRESSED",
            "EncryptionConfiguration": {"KMSEncryptionConfig": {"AWSKMSKeyARN": key}},
            # One finding per line, so the findings crawler and parser read records, not one blob.
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [
                    {
                        "Type": "AppendDelimiterToRecord",
                        "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "\\n"}],
                    }
                ],
            },
        }

    @staticmethod
    def _compared(d: Mapping[str, Any]) -> dict[str, Any]:
        keys = (
            "RoleARN",
            "BucketARN",
            "Prefix",
            "ErrorOutputPrefix",
            "BufferingHints",
            "CompressionFormat",
            "EncryptionConfiguration",
            "ProcessingConfiguration",
        )
        return {k: d.get(k) for k in keys}

    def desired(self) -> dict[str, Any]:
        return {"destination": self._compared(self.destination()), "tags": self.tags}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        fh = ctx.client("firehose")
        d = absent_on(*GONE)(
            lambda: fh.describe_delivery_stream(DeliveryStreamName=self.physical)["DeliveryStreamDescription"]
        )
        if d is None or d["DeliveryStreamStatus"] in ("DELETING",):
            return None
        dest = d["Destinations"][0] if d.get("Destinations") else {}
        s3 = dest.get("ExtendedS3DestinationDescription") or {}
        tags = tag_dict(fh.list_tags_for_delivery_stream(DeliveryStreamName=self.physical)["Tags"])
        return {
            "destination": self._compared(s3),
            "tags": tags_match(self.tags, tags),
            "_arn": d["DeliveryStreamARN"],
            "_state": d["DeliveryStreamStatus"],
            "_version": d.get("VersionId"),
            "_destination_id": dest.get("DestinationId"),
        }

    def create(self, ctx: AwsContext) -> None:
        fh = ctx.client("firehose")
        try:
            retry_while(
                lambda: fh.create_delivery_stream(
                    DeliveryStreamName=self.physical,
                    DeliveryStreamType="DirectPut",
                    ExtendedS3DestinationConfiguration=self.destination(),
                    Tags=tag_list(self.tags),
                ),
                lambda e: is_code(e, "InvalidArgumentException") and "role" in str(e).lower(),
            )
        except Exception as exc:
            if not is_code(exc, "ResourceInUseException"):
                raise
        # Firehose has no boto3 waiter; a stream is CREATING for a minute or so.
        wait_until(
            lambda: (
                fh.describe_delivery_stream(DeliveryStreamName=self.physical)["DeliveryStreamDescription"][
                    "DeliveryStreamStatus"
                ]
                == "ACTIVE"
            ),
            what=f"Firehose stream {self.physical} to become ACTIVE",
            deadline_seconds=600,
            delay=5,
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        fh = ctx.client("firehose")
        if "destination" in changed:
            fh.update_destination(
                DeliveryStreamName=self.physical,
                CurrentDeliveryStreamVersionId=current["_version"],
                DestinationId=current["_destination_id"],
                ExtendedS3DestinationUpdate=self.destination(),
            )
        if "tags" in changed:
            fh.tag_delivery_stream(DeliveryStreamName=self.physical, Tags=tag_list(self.tags))

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("firehose").delete_delivery_stream(
                DeliveryStreamName=self.physical, AllowForceDelete=True
            ),
            *GONE,
            "ResourceInUseException",
        )
