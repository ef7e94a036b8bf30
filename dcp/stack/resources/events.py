"""EventBridge: the rule sending Macie findings to the Firehose stream, with its target."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes
from dcp.aws.session import AwsContext
from dcp.stack.refs import Refs
from dcp.stack.resources.base import Resource, retry_while, tag_dict, tag_list, tags_match

TARGET_ID = "findings-firehose"
MACIE_FINDINGS = {"source": ["aws.macie"], "detail-type": ["Macie Finding"]}


class FindingsRule(Resource):
    kind = "events.rule"

    def __init__(self, refs: Refs, depends_on: Sequence[Resource]) -> None:
        super().__init__("findings-rule", refs.names.findings_rule, refs, depends_on)

    def stream_arn(self) -> str:
        return self.refs.arn("firehose", f"deliverystream/{self.names.firehose_stream}")

    def rule_arn(self) -> str:
        return self.refs.arn("events", f"rule/{self.physical}")

    def desired(self) -> dict[str, Any]:
        return {
            "pattern": MACIE_FINDINGS,
            "state": "ENABLED",
            "targets": [{"arn": self.stream_arn(), "role": self.names.role_arn("events")}],
            "tags": self.tags,
        }

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        events = ctx.client("events")
        rule = absent_on("ResourceNotFoundException")(lambda: events.describe_rule(Name=self.physical))
        if rule is None:
            return None
        targets = events.list_targets_by_rule(Rule=self.physical)["Targets"]
        tags = tag_dict(events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"])
        return {
            "pattern": json.loads(rule.get("EventPattern") or "{}"),
            "state": rule.get("State"),
            "targets": [{"arn": t["Arn"], "role": t.get("RoleArn")} for t in targets],
            "tags": tags_match(self.tags, tags),
            "_arn": rule["Arn"],
            "_state": rule.get("State", ""),
        }

    def create(self, ctx: AwsContext) -> None:
        self.update(ctx, {}, ["pattern", "targets", "tags"])

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        events = ctx.client("events")
        if {"pattern", "state"} & set(changed):
            # PutRule is an upsert: creating an existing rule updates it.
            events.put_rule(
                Name=self.physical,
                EventPattern=json.dumps(MACIE_FINDINGS),
                State="ENABLED",
                Description=f"Macie findings to Firehose (dcp stack {self.names.prefix})",
                Tags=tag_list(self.tags),
            )
        if "targets" in changed:
            retry_while(
                lambda: events.put_targets(
                    Rule=self.physical,
                    Targets=[{"Id": TARGET_ID, "Arn": self.stream_arn(), "RoleArn": self.names.role_arn("events")}],
                ),
                lambda e: "role" in str(e).lower(),
            )
        if "tags" in changed:
            events.tag_resource(ResourceARN=self.rule_arn(), Tags=tag_list(self.tags))

    def delete(self, ctx: AwsContext) -> None:
        events = ctx.client("events")
        ignore_codes(
            lambda: events.remove_targets(Rule=self.physical, Ids=[TARGET_ID], Force=True), "ResourceNotFoundException"
        )
        ignore_codes(lambda: events.delete_rule(Name=self.physical, Force=True), "ResourceNotFoundException")
