"""Lambda: the stack's functions (code from the assets bucket, compared by CodeSha256) and S3 permission."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import Refs
from dcp.stack.resources.base import Resource, retry_while, tags_match

RUNTIME = "python3.12"
GONE = ("ResourceNotFoundException",)


def _role_not_ready(exc: Exception) -> bool:
    # "The role defined for the function cannot be assumed by Lambda": IAM has not propagated yet.
    return is_code(exc, "InvalidParameterValueException") and "role" in str(exc).lower()


class Function(Resource):
    kind = "lambda.function"

    def __init__(
        self,
        logical: str,
        name: str,
        refs: Refs,
        *,
        handler: str,
        role: str,
        code_key: str,
        code_sha256: Callable[[], str],
        environment: Callable[[], dict[str, str]],
        vpc: Callable[[], dict[str, list[str]]] | None = None,
        timeout: int = 60,
        memory: int = 256,
        depends_on: Sequence[Resource] = (),
    ) -> None:
        super().__init__(logical, name, refs, depends_on)
        self.handler = handler
        self.role = role
        self.code_key = code_key
        self._sha = code_sha256
        self._environment = environment
        self._vpc = vpc
        self.timeout = timeout
        self.memory = memory

    def config(self) -> dict[str, Any]:
        return {
            "Runtime": RUNTIME,
            "Handler": self.handler,
            "Role": self.names.role_arn(self.role),
            "Timeout": self.timeout,
            "MemorySize": self.memory,
            "Environment": {"Variables": self._environment()},
            "VpcConfig": self.vpc_config(),
        }

    def vpc_config(self) -> dict[str, list[str]]:
        if self._vpc is None:
            return {"SubnetIds": [], "SecurityGroupIds": []}
        return self._vpc()

    def desired(self) -> dict[str, Any]:
        vpc = self.vpc_config()
        return {
            "runtime": RUNTIME,
            "handler": self.handler,
            "role": self.names.role_arn(self.role),
            "timeout": self.timeout,
            "memory": self.memory,
            "environment": self._environment(),
            "vpc": {"subnets": sorted(vpc["SubnetIds"]), "security_groups": sorted(vpc["SecurityGroupIds"])},
            "code_sha256": self._sha(),
            "tags": self.tags,
        }

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        got = absent_on(*GONE)(lambda: ctx.client("lambda").get_function(FunctionName=self.physical))
        if got is None:
            return None
        c = got["Configuration"]
        vpc = c.get("VpcConfig") or {}
        return {
            "runtime": c.get("Runtime"),
            "handler": c.get("Handler"),
            "role": c.get("Role"),
            "timeout": c.get("Timeout"),
            "memory": c.get("MemorySize"),
            "environment": (c.get("Environment") or {}).get("Variables", {}),
            "vpc": {
                "subnets": sorted(vpc.get("SubnetIds") or []),
                "security_groups": sorted(vpc.get("SecurityGroupIds") or []),
            },
            "code_sha256": c.get("CodeSha256"),
            "tags": tags_match(self.tags, got.get("Tags") or {}),
            "_arn": c.get("FunctionArn"),
            "_state": c.get("State", "Active"),
        }

    def _wait(self, ctx: AwsContext, waiter: str) -> None:
        ctx.client("lambda").get_waiter(waiter).wait(
            FunctionName=self.physical, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
        )

    def create(self, ctx: AwsContext) -> None:
        lam = ctx.client("lambda")
        code = {"S3Bucket": self.names.assets_bucket, "S3Key": self.code_key}
        try:
            retry_while(
                lambda: lam.create_function(
                    FunctionName=self.physical, Code=code, Tags=self.tags, Publish=False, **self.config()
                ),
                _role_not_ready,
            )
        except Exception as exc:
            if not is_code(exc, "ResourceConflictException"):
                raise
            current = self.read(ctx) or {}
            self.update(ctx, current, [k for k, v in self.desired().items() if current.get(k) != v])
            return
        self._wait(ctx, "function_active_v2")

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        lam = ctx.client("lambda")
        if "code_sha256" in changed:
            lam.update_function_code(FunctionName=self.physical, S3Bucket=self.names.assets_bucket, S3Key=self.code_key)
            self._wait(ctx, "function_updated_v2")
        if set(changed) - {"code_sha256", "tags"}:
            retry_while(
                lambda: lam.update_function_configuration(FunctionName=self.physical, **self.config()), _role_not_ready
            )
            self._wait(ctx, "function_updated_v2")
        if "tags" in changed and current.get("_arn"):
            lam.tag_resource(Resource=current["_arn"], Tags=self.tags)

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(lambda: ctx.client("lambda").delete_function(FunctionName=self.physical), *GONE)


class Permission(Resource):
    """Lets a service (S3) invoke a function, scoped by source ARN and account."""

    kind = "lambda.permission"

    def __init__(
        self,
        logical: str,
        function: str,
        refs: Refs,
        *,
        statement_id: str,
        principal: str,
        source_arn: str,
        depends_on: Sequence[Resource],
    ) -> None:
        super().__init__(logical, f"{function}/{statement_id}", refs, depends_on)
        self.function = function
        self.statement_id = statement_id
        self.principal = principal
        self.source_arn = source_arn

    def desired(self) -> dict[str, Any]:
        return {"principal": self.principal, "source_arn": self.source_arn, "source_account": self.names.account_id}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        policy = absent_on(*GONE)(lambda: ctx.client("lambda").get_policy(FunctionName=self.function)["Policy"])
        if not policy:
            return None
        for st in json.loads(policy).get("Statement", []):
            if st.get("Sid") != self.statement_id:
                continue
            principal = st.get("Principal", {})
            cond = st.get("Condition", {})
            return {
                "principal": principal.get("Service") if isinstance(principal, dict) else principal,
                "source_arn": cond.get("ArnLike", {}).get("AWS:SourceArn"),
                "source_account": cond.get("StringEquals", {}).get("AWS:SourceAccount"),
            }
        return None

    def create(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("lambda").add_permission(
                FunctionName=self.function,
                StatementId=self.statement_id,
                Action="lambda:InvokeFunction",
                Principal=self.principal,
                SourceArn=self.source_arn,
                SourceAccount=self.names.account_id,
            ),
            "ResourceConflictException",
        )

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("lambda").remove_permission(FunctionName=self.function, StatementId=self.statement_id),
            *GONE,
        )
