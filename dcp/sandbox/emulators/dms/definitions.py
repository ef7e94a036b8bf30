"""ModifyEndpoint, ModifyReplicationTask and ModifyReplicationSubnetGroup on moto's DMS records
(moto 5.2.5 lacks them), with DMS's semantics: only the members given change, and an endpoint's
`*Settings` are merged per setting unless `ExactSettings` is true.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore import xform_name

_ENDPOINT_SCALARS = (
    "EndpointIdentifier",
    "EndpointType",
    "EngineName",
    "Username",
    "Password",
    "ServerName",
    "Port",
    "DatabaseName",
    "ExtraConnectionAttributes",
    "CertificateArn",
    "SslMode",
    "ServiceAccessRoleArn",
    "ExternalTableDefinition",
)
_TASK_MEMBERS = ("ReplicationTaskIdentifier", "MigrationType", "TableMappings", "ReplicationTaskSettings")


def _attribute(member: str) -> str:
    """moto's attribute for a member: `PostgreSQLSettings` -> `postgre_sql_settings`."""
    return "id" if member == "ReplicationTaskIdentifier" else xform_name(member)


def modify_endpoint(endpoint: Any, params: Mapping[str, Any]) -> None:
    """Apply a ModifyEndpoint request to `endpoint` (a moto dms Endpoint)."""
    exact = bool(params.get("ExactSettings"))
    for member, value in params.items():
        if member in ("EndpointArn", "ExactSettings"):
            continue
        attribute = _attribute(member)
        if not hasattr(endpoint, attribute):
            continue  # a member moto's record does not keep
        if member in _ENDPOINT_SCALARS:
            setattr(endpoint, attribute, value)
        elif member.endswith("Settings") and isinstance(value, Mapping):
            current = getattr(endpoint, attribute) or {}
            setattr(endpoint, attribute, dict(value) if exact else {**current, **value})
    if "EngineName" in params:
        endpoint.engine_display_name = params["EngineName"]


def modify_task(task: Any, params: Mapping[str, Any]) -> None:
    """Apply a ModifyReplicationTask request to `task` (a moto FakeReplicationTask)."""
    for member in _TASK_MEMBERS:
        if member in params:
            setattr(task, _attribute(member), params[member])


def modify_subnet_group(group: Any, params: Mapping[str, Any]) -> None:
    """Apply a ModifyReplicationSubnetGroup request to `group` (moto's FakeReplicationSubnetGroup)."""
    if "SubnetIds" in params:
        group.subnetIds = list(params["SubnetIds"])
    if "ReplicationSubnetGroupDescription" in params:
        group.description = params["ReplicationSubnetGroupDescription"]
