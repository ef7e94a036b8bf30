"""Secrets Manager: the source-database credentials and the token key; values are never returned by read."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dcp.aws.errors import absent_on, ignore_codes, is_code
from dcp.aws.session import AwsContext
from dcp.stack.refs import Refs
from dcp.stack.resources.base import Resource, retry_while, tag_dict, tag_list, tags_match

GONE = ("ResourceNotFoundException",)


def random_password(ctx: AwsContext) -> str:
    """A password RDS accepts (no / @ \" or space), from Secrets Manager's generator."""
    return str(
        ctx.client("secretsmanager").get_random_password(
            PasswordLength=32, ExcludeCharacters="/@\"'\\ `", IncludeSpace=False
        )["RandomPassword"]
    )


class Secret(Resource):
    """A secret whose first value `initial(ctx)` makes; later `up`s never change the value."""

    kind = "secretsmanager.secret"

    def __init__(
        self,
        logical: str,
        name: str,
        refs: Refs,
        *,
        description: str,
        initial: Callable[[AwsContext], str],
        depends_on: Sequence[Resource] = (),
    ) -> None:
        super().__init__(logical, name, refs, depends_on)
        self.description = description
        self._initial = initial

    def desired(self) -> dict[str, Any]:
        return {"description": self.description, "tags": self.tags}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        d = absent_on(*GONE)(lambda: ctx.client("secretsmanager").describe_secret(SecretId=self.physical))
        if d is None:
            return None
        if d.get("DeletedDate"):
            return None
        return {
            "description": d.get("Description", ""),
            "tags": tags_match(self.tags, tag_dict(d.get("Tags"))),
            "_arn": d["ARN"],
        }

    def create(self, ctx: AwsContext) -> None:
        sm = ctx.client("secretsmanager")
        d = absent_on(*GONE)(lambda: sm.describe_secret(SecretId=self.physical))
        if d is not None and d.get("DeletedDate"):
            sm.restore_secret(SecretId=self.physical)  # scheduled for deletion: bring it back
            self.update(ctx, {}, ["description", "tags"])
            return
        value = self._initial(ctx)
        try:
            # A force-deleted secret's name stays taken for a few seconds after `down`.
            retry_while(
                lambda: sm.create_secret(
                    Name=self.physical, Description=self.description, SecretString=value, Tags=tag_list(self.tags)
                ),
                lambda e: is_code(e, "InvalidRequestException") and "deletion" in str(e).lower(),
                deadline_seconds=120,
                delay=5,
            )
        except Exception as exc:
            if not is_code(exc, "ResourceExistsException"):
                raise
        self.refs.forget(f"secret:{self.physical}")

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        sm = ctx.client("secretsmanager")
        if "description" in changed:
            sm.update_secret(SecretId=self.physical, Description=self.description)
        if "tags" in changed:
            sm.tag_resource(SecretId=self.physical, Tags=tag_list(self.tags))

    def delete(self, ctx: AwsContext) -> None:
        ignore_codes(
            lambda: ctx.client("secretsmanager").delete_secret(SecretId=self.physical, ForceDeleteWithoutRecovery=True),
            *GONE,
        )
        self.refs.forget(f"secret:{self.physical}")


def db_secret_value(ctx: AwsContext, *, engine: str, username: str, dbname: str, port: int) -> str:
    return json.dumps(
        {
            "engine": engine,
            "host": "",
            "port": port,
            "username": username,
            "password": random_password(ctx),
            "dbname": dbname,
        }
    )


def token_key_value(ctx: AwsContext) -> str:
    return secrets.token_hex(32)


def read_secret_json(ctx: AwsContext, name: str) -> dict[str, Any]:
    return dict(json.loads(ctx.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]))


class SecretEndpoint(Resource):
    """Writes the database's endpoint (host, port) into the credentials secret once it is known."""

    kind = "secretsmanager.endpoint"

    def __init__(
        self,
        refs: Refs,
        *,
        secret: str,
        endpoint: Callable[[AwsContext], tuple[str, int] | None],
        depends_on: Sequence[Resource],
    ) -> None:
        super().__init__("db-secret-endpoint", f"{secret}#host", refs, depends_on)
        self.secret = secret
        self._endpoint = endpoint

    def desired(self) -> dict[str, Any]:
        ep = self._endpoint(self.refs.ctx)
        return {"endpoint": list(ep) if ep else None}

    def read(self, ctx: AwsContext) -> dict[str, Any] | None:
        value = absent_on(*GONE)(lambda: read_secret_json(ctx, self.secret))
        if not value or not value.get("host"):
            return None
        return {"endpoint": [value["host"], int(value.get("port") or 0)]}

    def create(self, ctx: AwsContext) -> None:
        ep = self._endpoint(ctx)
        if ep is None:
            raise RuntimeError(f"the database {self.names.db_instance} has no endpoint yet")
        value = read_secret_json(ctx, self.secret)
        value["host"], value["port"] = ep
        ctx.client("secretsmanager").put_secret_value(SecretId=self.secret, SecretString=json.dumps(value))

    def update(self, ctx: AwsContext, current: Mapping[str, Any], changed: Sequence[str]) -> None:
        self.create(ctx)

    def delete(self, ctx: AwsContext) -> None:
        """Nothing to delete: the secret itself goes with its own resource."""
