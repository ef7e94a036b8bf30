"""Macie: the account's Macie session and the stack's custom data identifiers.

Custom data identifiers are immutable in Macie: a changed regex, keyword list or distance is
a delete + create (the plan says "replace"). Enabling Macie is account-wide: `up` adopts a
session that is already enabled, and `down` disables Macie only if this stack enabled it
(remembered with a tag on the findings bucket).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.masking.identifiers import CustomIdentifier
from dcp.stack.refs import PENDING, Refs
from dcp.stack.resources.base import Resource, tag_dict, tag_list, tags_match

#: Tag on the findings bucket: this stack enabled Macie, so `down` disables it again.
ENABLED_BY_TAG = "dcp:macie-enabled-by-stack"


class Session(Resource):
    kind = "macie.session"

    def __init__(self, refs: Refs, depends_on: Sequence[Resource]) -> None:
        super().__init__("macie-session", "macie", refs, depends_on)
        self.marker_bucket = refs.names.findings_bucket

    def desired(self) -> dict[str, Any]:
        return {"status": "ENABLED"}

    def _marked(self, ctx: AwsContext) -> bool:
        tags = absent_on("NoSuchBucket", "NoSuchTagSet")(
            lambda: ctx.client("s3").get_bucket_tagging(Bucket=self.marker_bucket)["TagSet"]
        )
        return tag_dict(tags).get(ENABLED_BY_TAG) == "true"

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        session = absent_on("AccessDeniedException", "ResourceNotFoundException")(
            lambda: ctx.client("macie2").get_macie_session()
        )
        if session is None:
            return None
        return {
            "status": session.get("status"),
            "_owned": self._marked(ctx),
            "_state": session.get("status", ""),
            "_arn": session.get("serviceRole", ""),
        }

    def create(self, ctx: AwsContext) -> None:
        try:
            ctx.client("macie2").enable_macie(status="ENABLED", findingPublishingFrequency="FIFTEEN_MINUTES")
        except Exception as exc:
            if is_code(exc, "ConflictException"):  # enabled by someone else meanwhile: adopt, no marker
                return
            raise
        s3 = ctx.client("s3")
        tags = tag_dict(absent_on("NoSuchTagSet")(lambda: s3.get_bucket_tagging(Bucket=self.marker_bucket)["TagSet"]))
        s3.put_bucket_tagging(Bucket=self.marker_bucket, Tagging={"TagSet": tag_list({**tags, ENABLED_BY_TAG: "true"})})

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        ctx.client("macie2").update_macie_session(status="ENABLED")

    def delete(self, ctx: AwsContext) -> None:
        if self._marked(ctx):
            ignore_codes(
                lambda: ctx.client("macie2").disable_macie(), "AccessDeniedException", "ResourceNotFoundException"
            )


def find_custom_identifier(ctx: AwsContext, name: str) -> str | None:
    macie = ctx.client("macie2")
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"maxResults": 500}
        if token:
            kwargs["nextToken"] = token
        page = macie.list_custom_data_identifiers(**kwargs)
        for item in page.get("items", []):
            if item.get("name") == name:
                return str(item["id"])
        token = page.get("nextToken")
        if not token:
            return None


class CustomDataIdentifier(Resource):
    kind = "macie.custom-identifier"
    replace_fields = frozenset({"regex", "keywords", "ignore_words", "maximum_match_distance"})

    def __init__(self, identifier: CustomIdentifier, refs: Refs, depends_on: Sequence[Resource]) -> None:
        super().__init__(
            f"macie-cdi-{identifier.name}", refs.names.custom_identifier(identifier.name), refs, depends_on
        )
        self.identifier = identifier

    def desired(self) -> dict[str, Any]:
        i = self.identifier
        return {
            "regex": i.regex,
            "keywords": sorted(i.keywords),
            "ignore_words": sorted(i.ignore_words),
            "maximum_match_distance": i.maximum_match_distance,
            "tags": self.tags,
        }

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        found = absent_on("AccessDeniedException")(lambda: find_custom_identifier(ctx, self.physical))
        if found is None:
            return None
        d = absent_on("ResourceNotFoundException")(lambda: ctx.client("macie2").get_custom_data_identifier(id=found))
        if d is None or d.get("deleted"):
            return None
        return {
            "regex": d.get("regex"),
            "keywords": sorted(d.get("keywords") or []),
            "ignore_words": sorted(d.get("ignoreWords") or []),
            "maximum_match_distance": d.get("maximumMatchDistance"),
            "tags": tags_match(self.tags, d.get("tags") or {}),
            "_arn": d.get("arn"),
            "_id": d.get("id"),
        }

    def create(self, ctx: AwsContext) -> None:
        if find_custom_identifier(ctx, self.physical) is not None:
            return
        i = self.identifier
        kwargs: dict[str, Any] = {
            "name": self.physical,
            "description": f"dcp stack {self.names.prefix}: {i.name}",
            "regex": i.regex,
            "maximumMatchDistance": i.maximum_match_distance,
            "tags": self.tags,
        }
        if i.keywords:
            kwargs["keywords"] = list(i.keywords)
        if i.ignore_words:
            kwargs["ignoreWords"] = list(i.ignore_words)
        ctx.client("macie2").create_custom_data_identifier(**kwargs)

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        if self.replace_fields & set(changed):
            self.delete(ctx)
            self.create(ctx)
        elif "tags" in changed and current.get("_arn"):
            ctx.client("macie2").tag_resource(resourceArn=current["_arn"], tags=self.tags)

    def delete(self, ctx: AwsContext) -> None:
        found = absent_on("AccessDeniedException")(lambda: find_custom_identifier(ctx, self.physical))
        if found is not None:
            ignore_codes(
                lambda: ctx.client("macie2").delete_custom_data_identifier(id=found), "ResourceNotFoundException"
            )


class ClassificationExport(Resource):
    """Where Macie stores its sensitive data discovery results: the findings bucket under
    `discovery-results/`, encrypted with the bucket key. A finding lists at most 15 occurrences;
    the result of each object lists them all, and the masking job reads them
    (`--discovery_results`) so that every flagged column is located.

    The bucket policy lets macie.amazonaws.com put objects there and the key policy lets it
    GenerateDataKey/Encrypt, as "Storing and retaining sensitive data discovery results"
    (https://docs.aws.amazon.com/macie/latest/user/discovery-results-repository-s3.html)
    requires. The setting is account- and region-wide and Macie has no API to remove it:
    `down` leaves it (disabling Macie, when this stack enabled it, clears it); once its bucket
    is gone it reads as absent.
    """

    kind = "macie.classification-export"

    def __init__(self, refs: Refs, depends_on: Sequence[Resource]) -> None:
        super().__init__("macie-classification-export", "macie-discovery-results", refs, depends_on)

    def desired(self) -> dict[str, Any]:
        return {
            "bucket": self.names.findings_bucket,
            "prefix": self.names.DISCOVERY_RESULTS_PREFIX.strip("/"),
            "key": self.refs.key_arn(self.names.bucket_key_alias) or PENDING,
        }

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        found = absent_on("AccessDeniedException", "ResourceNotFoundException")(
            lambda: ctx.client("macie2").get_classification_export_configuration()
        )
        destination = ((found or {}).get("configuration") or {}).get("s3Destination")
        if not destination:
            return None
        bucket = str(destination.get("bucketName") or "")
        if absent_on("NoSuchBucket", "404", "NotFound")(lambda: ctx.client("s3").head_bucket(Bucket=bucket)) is None:
            return None  # left behind by `down` (Macie cannot forget it): nothing of this stack
        return {
            "bucket": destination.get("bucketName"),
            "prefix": (destination.get("keyPrefix") or "").strip("/"),
            "key": destination.get("kmsKeyArn"),
        }

    def create(self, ctx: AwsContext) -> None:
        want = self.desired()
        ctx.client("macie2").put_classification_export_configuration(
            configuration={
                "s3Destination": {"bucketName": want["bucket"], "keyPrefix": want["prefix"], "kmsKeyArn": want["key"]}
            }
        )

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        self.create(ctx)

    def delete(self, ctx: AwsContext) -> None:
        """Nothing to do: Macie keeps an export configuration until Macie is disabled."""
