"""Findings accumulate over incremental scans: per object the newest finding of its current version counts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from dcp.gluejob.findings_reader import load_findings
from tests.unit.gluejob.gluejob_lake import Lake, finding_for

PEOPLE = pa.table({"id": ["1"], "name": ["Ann Lee"], "mail": ["ann.lee@example.com"]})


def _at(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_each_object_counts_once_by_its_newest_finding_of_its_current_version(lake: Lake) -> None:
    rewritten = lake.put_raw("people", "LOAD00000001.csv", PEOPLE)
    changed = lake.put_raw("people", "20240102-000000001.csv", PEOPLE)
    unchanged = lake.put_raw("card", "LOAD00000001.csv", PEOPLE)
    now = datetime.now(UTC)
    old, later, latest = _at(now - timedelta(days=1)), _at(now + timedelta(minutes=1)), _at(now + timedelta(minutes=2))

    def finding(key: str, columns: dict[str, str], created: str) -> object:
        return dataclasses.replace(finding_for(lake.raw_bucket, key, columns), created_at=created)

    # job 1 (yesterday): the first object had a name; the object has been rewritten since (no new finding:
    # a rewrite without sensitive data gets none)
    lake.put_findings([finding(rewritten, {"name": "NAME"}, old)], name="findings/2024/01/01/job-1")
    # two jobs classified the second object's current version; the newer one flags only mail
    lake.put_findings(
        [
            finding(changed, {"name": "NAME", "mail": "EMAIL_ADDRESS"}, later),
            finding(unchanged, {"name": "NAME"}, later),
        ],
        name="findings/2024/01/02/job-2",
    )
    lake.put_findings([finding(changed, {"mail": "EMAIL_ADDRESS"}, latest)], name="findings/2024/01/03/job-3")
    # an object that is gone: its finding is kept (it can only mask more)
    gone = lake.raw_key("card", "LOAD00000002.csv")
    lake.put_findings([finding(gone, {"name": "NAME"}, old)], name="findings/2024/01/03/job-4")

    loaded = load_findings(
        lake.s3, lake.findings_bucket, "findings/", raw_bucket=lake.raw_bucket, raw_prefix=lake.raw_prefix
    )

    kept = {f.key: sorted(d.type for d in f.detections) for f in loaded.findings}
    assert kept == {changed: ["EMAIL_ADDRESS"], unchanged: ["NAME"], gone: ["NAME"]}
    assert loaded.superseded == 2 and loaded.objects == 4
