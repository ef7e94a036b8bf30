"""Which AWS operations the sandbox serves: a dcp emulator, moto, or nobody.

An operation is *served* when a dcp emulator is registered for it or moto's response class
for the service has a method for it (moto's naming: the operation in snake case). Everything
else in botocore's model for the service is unsupported, and the dispatcher answers it with
an AWS-shaped 400 (:data:`UNSUPPORTED_CODE`) that botocore does not retry, instead of moto's
HTML 404. A served operation can still be unsupported for some parameters (moto raises
``NotImplementedError``); the dispatcher answers those the same way when they happen.
"""

from __future__ import annotations

import functools
from typing import Any

from dcp.sandbox import moto_compat

#: The error code of an operation the sandbox does not serve (400, not retried by botocore).
UNSUPPORTED_CODE = "UnsupportedOperation"

#: The services dcp itself calls (botocore names), the ones `dcp sandbox status --unsupported` covers.
DCP_SERVICES = (
    "athena",
    "dms",
    "ec2",
    "events",
    "firehose",
    "glue",
    "iam",
    "kms",
    "lakeformation",
    "lambda",
    "logs",
    "macie2",
    "rds",
    "resourcegroupstaggingapi",
    "s3",
    "secretsmanager",
    "sts",
)


def unsupported_message(service: str, operation: str, detail: str = "") -> str:
    return (
        f"the dcp sandbox does not support {service}:{operation}{detail}; "
        "`dcp sandbox status --unsupported` lists what it does not serve"
    )


@functools.cache
def _moto_methods(service: str) -> frozenset[str] | None:
    return moto_compat.response_methods(service)


def moto_serves(service: str, operation: str) -> bool:
    """Whether moto has a handler for the operation (S3's are dispatched by method: all count)."""
    if service == "s3":
        return True
    methods = _moto_methods(service)
    return methods is not None and moto_compat.method_name(operation) in methods


def is_served(service: str, operation: str) -> bool:
    from dcp.sandbox.registry import handler_for

    return handler_for(service, operation) is not None or moto_serves(service, operation)


def unsupported_operations(services: tuple[str, ...] = DCP_SERVICES) -> dict[str, list[str]]:
    """Per service, the operations of botocore's model that neither an emulator nor moto serves."""
    from dcp.sandbox.emulators import load_emulators

    load_emulators()
    out: dict[str, list[str]] = {}
    for service in services:
        model: Any = moto_compat.service_model(service)
        out[service] = sorted(op for op in model.operation_names if not is_served(service, op))
    return out
