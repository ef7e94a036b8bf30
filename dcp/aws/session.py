"""The one boto3 client factory: session, region, endpoint, adaptive retries, assumed roles."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(
    retries={"max_attempts": 8, "mode": "adaptive"},
    connect_timeout=10,
    read_timeout=120,
    user_agent_extra="dcp",
    max_pool_connections=32,
)


@dataclass
class AwsContext:
    """Everything a module needs to make AWS calls; pass this, not the whole world."""

    session: boto3.Session
    region: str
    endpoint_url: str | None = None
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _account_id: str | None = field(default=None, repr=False)

    @classmethod
    def create(
        cls,
        *,
        region: str,
        profile: str | None = None,
        endpoint_url: str | None = None,
        credentials: dict[str, str] | None = None,
    ) -> AwsContext:
        kwargs: dict[str, Any] = {"region_name": region}
        if profile:
            kwargs["profile_name"] = profile
        if credentials:
            kwargs.update(
                aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials.get("SessionToken"),
            )
        return cls(session=boto3.Session(**kwargs), region=region, endpoint_url=endpoint_url)

    def client(self, service: str) -> Any:
        """A cached, thread-safe boto3 client for `service` at this context's endpoint."""
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                client = self.session.client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=RETRY_CONFIG,
                )
                self._clients[service] = client
            return client

    @property
    def account_id(self) -> str:
        if self._account_id is None:
            self._account_id = self.client("sts").get_caller_identity()["Account"]
        return self._account_id

    @property
    def partition(self) -> str:
        return "aws-us-gov" if self.region.startswith("us-gov-") else "aws"

    def assume(self, role_arn: str, session_name: str = "dcp") -> AwsContext:
        """A context whose calls are made as `role_arn` (STS AssumeRole, one hour)."""
        creds = self.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=3600)[
            "Credentials"
        ]
        ctx = AwsContext.create(region=self.region, endpoint_url=self.endpoint_url, credentials=creds)
        ctx._account_id = self._account_id
        return ctx
