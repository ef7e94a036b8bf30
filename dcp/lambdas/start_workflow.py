"""Lambda: start the Glue workflow when Firehose writes a findings object (S3 ObjectCreated event)."""

from __future__ import annotations

import logging
import os
from typing import Any

import boto3

log = logging.getLogger()
log.setLevel(logging.INFO)


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


def handler(event: dict[str, Any], context: Any = None, *, glue: Any = None) -> dict[str, Any]:
    workflow = os.environ["WORKFLOW_NAME"]
    objects = _objects(event or {})
    glue = glue or boto3.client("glue")
    try:
        run_id = glue.start_workflow_run(Name=workflow)["RunId"]
    except glue.exceptions.ConcurrentRunsExceededException:
        # A run is already going; it will pick up this object (crawlers re-read the prefix).
        log.info("workflow %s already running; %d new object(s) left for it", workflow, len(objects))
        return {"started": False, "reason": "ConcurrentRunsExceeded", "workflow": workflow, "objects": objects}
    log.info("started workflow %s run %s for %d object(s)", workflow, run_id, len(objects))
    return {"started": True, "run_id": run_id, "workflow": workflow, "objects": objects}
