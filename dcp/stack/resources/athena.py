"""Athena: one workgroup per persona, its results in the persona's own folder, encrypted with the
bucket key, enforced for every query (a caller cannot send its results elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import PENDING, Refs
from dcp.stack.resources.base import Resource, tag_dict, tag_list, tags_match


class WorkGroup(Resource):
    kind = "athena.workgroup"

    def __init__(self, refs: Refs, persona: str, depends_on: Sequence[Resource]) -> None:
        super().__init__(f"athena-workgroup-{persona}", refs.names.persona_workgroup(persona), refs, depends_on)
        self.persona = persona

    def result_configuration(self) -> dict[str, Any]:
        return {
            "OutputLocation": f"s3://{self.names.athena_results_bucket}/{self.names.persona_results_prefix(self.persona)}",
            "EncryptionConfiguration": {
                "EncryptionOption": "SSE_KMS",
                "KmsKey": self.refs.key_arn(self.names.bucket_key_alias) or PENDING,
            },
        }

    def desired(self) -> dict[str, Any]:
        return {"results": self.result_configuration(), "enforce": True, "tags": self.tags}

    def arn(self) -> str:
        return self.refs.arn("athena", f"workgroup/{self.physical}")

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        athena = ctx.client("athena")
        wg = absent_on("InvalidRequestException")(
            lambda: athena.get_work_group(WorkGroup=self.physical).get("WorkGroup")
        )
        if wg is None:
            return None
        conf = wg.get("Configuration", {})
        rc = conf.get("ResultConfiguration", {})
        tags = tag_dict(athena.list_tags_for_resource(ResourceARN=self.arn()).get("Tags"))
        return {
            "results": {
                "OutputLocation": rc.get("OutputLocation"),
                "EncryptionConfiguration": rc.get("EncryptionConfiguration"),
            },
            "enforce": bool(conf.get("EnforceWorkGroupConfiguration")),
            "tags": tags_match(self.tags, tags),
            "_arn": self.arn(),
            "_state": wg.get("State", ""),
        }

    def create(self, ctx: AwsContext) -> None:
        try:
            ctx.client("athena").create_work_group(
                Name=self.physical,
                Description=f"dcp stack {self.names.prefix}: persona {self.persona}",
                Configuration={
                    "ResultConfiguration": self.result_configuration(),
                    "EnforceWorkGroupConfiguration": True,
                    "PublishCloudWatchMetricsEnabled": True,
                },
                Tags=tag_list(self.tags),
            )
        except Exception as exc:
            if not (is_code(exc, "InvalidRequestException") and "already" in str(exc).lower()):
                raise

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        athena = ctx.client("athena")
        if {"results", "enforce"} & set(changed):
            athena.update_work_group(
                WorkGroup=self.physical,
                ConfigurationUpdates={
                    "ResultConfigurationUpdates": self.result_configuration(),
                    "EnforceWorkGroupConfiguration": True,
                },
            )
        if "tags" in changed:
            athena.tag_resource(ResourceARN=self.arn(), Tags=tag_list(self.tags))

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("athena").delete_work_group(WorkGroup=self.physical, RecursiveDeleteOption=True),
            "InvalidRequestException",
        )
