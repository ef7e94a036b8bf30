"""EventBridge PutEvents served with Firehose delivery."""

from __future__ import annotations

from typing import Any

from dcp.sandbox.emulators.events.models import publish_events
from dcp.sandbox.registry import Call, emulates


@emulates("events", "PutEvents")
def put_events(call: Call) -> dict[str, Any]:
    results = publish_events(call.account_id, call.region, list(call.params.get("Entries") or []))
    failed = sum(1 for r in results if "ErrorCode" in r)
    return {"FailedEntryCount": failed, "Entries": results}
