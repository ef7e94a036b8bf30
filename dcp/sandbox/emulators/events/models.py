"""EventBridge event delivery: rules matched with moto's pattern engine, Firehose targets served here.

For each accepted entry the full event (version, id, detail-type, source, account, time,
region, resources, detail) goes to every ENABLED rule of the bus whose pattern matches. A
Firehose target receives the event JSON (or its `Input`/`InputPath`/`InputTransformer`
result) as one record; all records of one PutEvents call for one stream become one S3 object
(see :mod:`dcp.sandbox.emulators.firehose.models`). Other targets (SQS, logs, buses, ...)
are delivered by moto's own code.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from dcp.sandbox import moto_compat
from dcp.sandbox.registry import AwsError

log = logging.getLogger("dcp.sandbox")

MAX_ENTRIES = 10


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and value:
        return value
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _json_path(document: Any, path: str) -> Any:
    """The value at a simple JSONPath (`$.detail.x`), or None."""
    if path in ("$", ""):
        return document
    value = document
    for part in path.lstrip("$").strip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def target_input(target: dict[str, Any], event: dict[str, Any]) -> bytes:
    """What a target receives for `event` (Input, InputPath, InputTransformer or the event)."""
    if target.get("Input") is not None:
        return str(target["Input"]).encode("utf-8")
    if target.get("InputPath"):
        return json.dumps(_json_path(event, target["InputPath"])).encode("utf-8")
    transformer = target.get("InputTransformer")
    if transformer:
        rendered = moto_compat.render_input_template(
            transformer.get("InputTemplate"), transformer.get("InputPathsMap", {}), event
        )
        return (rendered if isinstance(rendered, str) else json.dumps(rendered)).encode("utf-8")
    return json.dumps(event).encode("utf-8")


def _firehose_stream(arn: str) -> tuple[str, str, str] | None:
    """(account, region, stream) of a Firehose stream ARN, else None."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "firehose" and parts[5].startswith("deliverystream/"):
        return parts[4], parts[3], parts[5].split("/", 1)[1]
    return None


def _entry_error(entry: dict[str, Any]) -> dict[str, str] | None:
    for field, name in (("Source", "Source"), ("DetailType", "DetailType"), ("Detail", "Detail")):
        if not entry.get(field):
            return {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": f"Parameter {name} is not valid. Reason: {name} is a required argument.",
            }
    try:
        json.loads(entry["Detail"])
    except ValueError:
        return {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    return None


def publish_events(account_id: str, region: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PutEvents: the result entries (EventId or ErrorCode per entry, in order)."""
    events_backends = moto_compat.backends("events")
    if len(entries) > MAX_ENTRIES:
        raise AwsError(
            "ValidationException",
            "1 validation error detected: Value at 'entries' failed to satisfy constraint: "
            "Member must have length less than or equal to 10",
            400,
        )
    backend = events_backends[account_id][region]
    results: list[dict[str, Any]] = []
    firehose_batches: dict[tuple[str, str, str], list[bytes]] = defaultdict(list)
    for entry in entries:
        error = _entry_error(entry)
        if error is not None:
            results.append(error)
            continue
        event_id = str(uuid.uuid4())
        results.append({"EventId": event_id})
        try:
            bus = backend.describe_event_bus(backend._normalize_event_bus_arn(entry.get("EventBusName")))
        except Exception:
            results[-1] = {
                "ErrorCode": "InvalidArgument",
                "ErrorMessage": f"Event bus {entry.get('EventBusName')} does not exist.",
            }
            continue
        event = {
            "version": "0",
            "id": event_id,
            "detail-type": entry["DetailType"],
            "source": entry["Source"],
            "account": account_id,
            "time": _iso(entry.get("Time")),
            "region": region,
            "resources": list(entry.get("Resources") or []),
            "detail": json.loads(entry["Detail"]),
        }
        for rule in list(bus.rules.values()):
            if getattr(rule, "state", "ENABLED") != "ENABLED":
                continue
            if not rule.event_pattern.matches_event(event):
                continue
            others = []
            for target in rule.targets:
                stream = _firehose_stream(str(target.get("Arn", "")))
                if stream is not None:
                    # EventBridge puts to Firehose as the target's role; a denial is a failed invocation.
                    refused = _role_refuses(target, "firehose:PutRecord", str(target.get("Arn", "")))
                    if refused:
                        log.warning("sandbox: rule %s cannot deliver to %s: %s", rule.name, stream[2], refused)
                        continue
                    firehose_batches[stream].append(target_input(target, event))
                else:
                    others.append(target)
            if others:
                _send_with_moto(rule, others, event)
    from dcp.sandbox.emulators.firehose.models import deliver_records

    for (stream_account, stream_region, stream_name), records in firehose_batches.items():
        try:
            deliver_records(stream_account, stream_region, stream_name, records)
        except AwsError as exc:
            log.warning("sandbox: EventBridge -> Firehose %s failed: %s", stream_name, exc)
    return results


def _role_refuses(target: dict[str, Any], action: str, resource: str) -> str | None:
    from dcp.sandbox.gates import AccessDenied, Check, role_may

    try:
        role_may(str(target.get("RoleArn") or ""), [Check(action, resource)], session_name="events")
    except AccessDenied as exc:
        return exc.message
    return None


def _send_with_moto(rule: Any, targets: list[dict[str, Any]], event: dict[str, Any]) -> None:
    """moto's delivery for the targets it supports (SQS, CloudWatch Logs, buses, archives)."""
    clone = copy.copy(rule)
    clone.targets = targets
    message = dict(event, **{"ingestion-time": datetime.now(UTC).timestamp()})
    try:
        clone.send_to_targets(message)
    except NotImplementedError:
        log.warning("sandbox: rule %s has targets the sandbox cannot deliver to", rule.name)
    except Exception:
        log.exception("sandbox: delivery for rule %s failed", rule.name)
