"""DMS operations the sandbox runs (moto only stores tasks): start, stop, describe, statistics;
and the Modify*/AddTagsToResource operations moto lacks."""

from __future__ import annotations

from typing import Any

from dcp.sandbox.emulators.dms import definitions
from dcp.sandbox.emulators.dms.service import DmsTasks, TaskStateError, _dms_backend
from dcp.sandbox.registry import AccountRegionStore, AwsError, Call, after, emulates

tasks: AccountRegionStore[DmsTasks] = AccountRegionStore(DmsTasks)


def _tasks(call: Call) -> DmsTasks:
    return tasks[(call.account_id, call.region)]


def describe(t: DmsTasks, task: Any) -> dict[str, Any]:
    out = task.to_dict()
    run = t.runs.get(task.arn)
    for key in ("ReplicationTaskStartDate",):
        out.pop(key, None)
    if run is None:
        out["Status"] = task.status
        out.pop("ReplicationTaskStats", None)
        out["ReplicationTaskCreationDate"] = task.creation_date
        return out
    out.update(Status=run.status, ReplicationTaskStats=run.stats(), ReplicationTaskCreationDate=task.creation_date)
    if run.start is not None:
        out["ReplicationTaskStartDate"] = run.start
    if run.stop_reason:
        out["StopReason"] = run.stop_reason
    if run.failure:
        out["LastFailureMessage"] = run.failure
    return out


def _task(call: Call, t: DmsTasks) -> Any:
    arn = call.params.get("ReplicationTaskArn", "")
    try:
        return t.task(arn)
    except KeyError:
        raise AwsError("ResourceNotFoundFault", "Replication Task not found") from None


@after("dms", "CreateReplicationTask")
def task_ready(call: Call, status: int) -> None:
    """DMS moves a new task from creating to ready once it has validated it."""
    if status >= 300:
        return
    for task in _dms_backend(call.account_id, call.region).replication_tasks.values():
        if task.id == call.params.get("ReplicationTaskIdentifier") and task.status == "creating":
            task.status = "ready"


@after("dms", "DeleteReplicationTask")
def forget_task(call: Call, status: int) -> None:
    """A task's run state and snapshots go with it, so a re-created task is not a resume."""
    if status < 300:
        _tasks(call).forget(call.params.get("ReplicationTaskArn", ""), call.sandbox.state_dir)


@emulates("dms", "StartReplicationTask")
def start_replication_task(call: Call) -> dict[str, Any]:
    t = _tasks(call)
    task = _task(call, t)
    try:
        t.start(task.arn, call.params.get("StartReplicationTaskType", "start-replication"), call.sandbox.state_dir)
    except TaskStateError as exc:
        raise AwsError("InvalidResourceStateFault", str(exc)) from None
    except ValueError as exc:
        raise AwsError("InvalidParameterValueException", str(exc)) from None
    return {"ReplicationTask": describe(t, task)}


@emulates("dms", "StopReplicationTask")
def stop_replication_task(call: Call) -> dict[str, Any]:
    t = _tasks(call)
    task = _task(call, t)
    try:
        t.stop(task.arn)
    except TaskStateError as exc:
        raise AwsError("InvalidResourceStateFault", str(exc)) from None
    return {"ReplicationTask": describe(t, task)}


@emulates("dms", "DescribeReplicationTasks")
def describe_replication_tasks(call: Call) -> dict[str, Any]:
    t = _tasks(call)
    found = _dms_backend(call.account_id, call.region).describe_replication_tasks(
        filters=call.params.get("Filters", []), max_records=call.params.get("MaxRecords")
    )
    out = [describe(t, task) for task in found]
    if call.params.get("WithoutSettings"):
        for d in out:
            d.pop("ReplicationTaskSettings", None)
    return {"ReplicationTasks": out}


@emulates("dms", "DescribeTableStatistics")
def describe_table_statistics(call: Call) -> dict[str, Any]:
    t = _tasks(call)
    task = _task(call, t)
    run = t.runs.get(task.arn)
    stats = [s.to_dict() for s in (run.tables.values() if run else [])]
    for f in call.params.get("Filters", []):
        key = {"schema-name": "SchemaName", "table-name": "TableName", "table-state": "TableState"}.get(f["Name"])
        if key:
            stats = [s for s in stats if s[key] in f.get("Values", [])]
    marker = int(call.params.get("Marker") or 0)
    limit = int(call.params.get("MaxRecords") or 100)
    page = stats[marker : marker + limit]
    out: dict[str, Any] = {"ReplicationTaskArn": task.arn, "TableStatistics": page}
    if marker + limit < len(stats):
        out["Marker"] = str(marker + limit)
    return out


@emulates("dms", "ModifyReplicationTask")
def modify_replication_task(call: Call) -> dict[str, Any]:
    t = _tasks(call)
    task = _task(call, t)
    run = t.runs.get(task.arn)
    if run is not None and run.status in ("starting", "running", "stopping"):
        raise AwsError("InvalidResourceStateFault", f"Replication task is {run.status}; stop it first")
    definitions.modify_task(task, call.params)
    return {"ReplicationTask": describe(t, task)}


@emulates("dms", "ModifyEndpoint")
def modify_endpoint(call: Call) -> dict[str, Any]:
    arn = call.params["EndpointArn"]
    backend = _dms_backend(call.account_id, call.region)
    endpoint = next((e for e in backend.endpoints.values() if e.endpoint_arn == arn), None)
    if endpoint is None:
        raise AwsError("ResourceNotFoundFault", "Endpoint not found")
    definitions.modify_endpoint(endpoint, call.params)
    return {"Endpoint": {k: v for k, v in endpoint.to_dict().items() if v is not None}}


@emulates("dms", "ModifyReplicationSubnetGroup")
def modify_replication_subnet_group(call: Call) -> dict[str, Any]:
    name = call.params["ReplicationSubnetGroupIdentifier"]
    group = _dms_backend(call.account_id, call.region).replication_subnet_groups.get(name)
    if group is None:
        raise AwsError("ResourceNotFoundFault", f"Replication subnet group {name} not found")
    definitions.modify_subnet_group(group, call.params)
    return {"ReplicationSubnetGroup": group.to_dict()}


@emulates("dms", "AddTagsToResource")
def add_tags_to_resource(call: Call) -> dict[str, Any]:
    _dms_backend(call.account_id, call.region).tagger.tag_resource(
        call.params["ResourceArn"], list(call.params["Tags"])
    )
    return {}
