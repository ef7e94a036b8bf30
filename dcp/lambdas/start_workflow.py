"""Lambda: start the Glue workflow when Firehose writes a findings object (S3 ObjectCreated event).

No findings object is dropped. While a run is in progress the workflow (MaxConcurrentRuns 1)
refuses another with ConcurrentRunsExceededException; the handler then waits for a run that
starts after the newest object arrived (its crawlers re-read the whole findings prefix, so it
covers the object), starting one itself as soon as the workflow is free. If the function's
time runs out first it fails, and Lambda's asynchronous invocation retries the S3 event
(twice, minutes apart: https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime
from typing import Any

import boto3

log = logging.getLogger()
log.setLevel(logging.INFO)

#: Seconds kept back from the function's timeout to fail cleanly (so the event is retried).
MARGIN_SECONDS = 10.0


class WorkflowBusy(Exception):
    """The workflow stayed busy for the whole invocation; failing makes Lambda retry the event."""


def _objects(event: dict[str, Any]) -> list[str]:
    """`bucket/key` of each record of an S3 notification (empty for a manual invoke)."""
    out = []
    for record in event.get("Records") or []:
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name", "")
        key = (s3.get("object") or {}).get("key", "")
        if bucket or key:
            out.append(f"{bucket}/{key}")
    return out


def _newest_event_time(event: dict[str, Any]) -> datetime:
    """When the newest object of the event was written (now for a manual invoke)."""
    times = []
    for record in event.get("Records") or []:
        text = str(record.get("eventTime") or "")
        try:
            times.append(datetime.fromisoformat(text.replace("Z", "+00:00")))
        except ValueError:
            continue
    return max(times) if times else datetime.now(UTC)


def _covering_run(glue: Any, workflow: str, since: datetime) -> str | None:
    """A run that started at or after `since` (it reads every object written before it started)."""
    for run in glue.get_workflow_runs(Name=workflow, IncludeGraph=False, MaxResults=10).get("Runs", []):
        started = run.get("StartedOn")
        if isinstance(started, datetime) and started.astimezone(UTC) >= since:
            return str(run.get("WorkflowRunId"))
    return None


def _seconds_left(context: Any) -> float:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000.0 if callable(remaining) else 60.0


def handler(
    event: dict[str, Any], context: Any = None, *, glue: Any = None, poll_seconds: float = 5.0
) -> dict[str, Any]:
    workflow = os.environ["WORKFLOW_NAME"]
    event = event or {}
    objects = _objects(event)
    arrived = _newest_event_time(event)
    glue = glue or boto3.client("glue")
    deadline = time.monotonic() + max(0.0, _seconds_left(context) - MARGIN_SECONDS)
    while True:
        try:
            run_id = glue.start_workflow_run(Name=workflow)["RunId"]
        except glue.exceptions.ConcurrentRunsExceededException:
            covering = _covering_run(glue, workflow, arrived)
            if covering:
                log.info("workflow %s run %s started after %d new object(s)", workflow, covering, len(objects))
                return {"started": False, "covered_by": covering, "workflow": workflow, "objects": objects}
            if time.monotonic() + poll_seconds > deadline:
                raise WorkflowBusy(
                    f"workflow {workflow} is still running an earlier run; retrying {len(objects)} object(s) later"
                ) from None
            time.sleep(poll_seconds)
            continue
        log.info("started workflow %s run %s for %d object(s)", workflow, run_id, len(objects))
        return {"started": True, "run_id": run_id, "workflow": workflow, "objects": objects}
