"""`dcp scan` classifies only raw objects new or changed since its last successful job (issue #14).

Counted on the sandbox's Macie: the second job's approximateNumberOfObjectsToProcess and the
keys of its findings, against the raw objects the CDC round wrote.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import Dcp


@pytest.fixture(scope="module")
def lake(sandbox_factory: Any) -> Dcp:
    dcp = sandbox_factory("incr")
    dcp("up")
    dcp("seed", "--rows", "300", "--seed", "5")
    return dcp


def _raw(dcp: Dcp) -> dict[str, Any]:
    from dcp.pipeline.scan_scope import raw_objects

    return {o.key: o.modified for o in raw_objects(dcp.aws(), dcp.names().raw_bucket)}


def _jobs(dcp: Dcp) -> list[dict[str, Any]]:
    macie = dcp.aws().client("macie2")
    items = macie.list_classification_jobs(sortCriteria={"attributeName": "createdAt", "orderBy": "ASC"})["items"]
    return [macie.describe_classification_job(jobId=i["jobId"]) for i in items]


def _finding_keys(dcp: Dcp, job_id: str) -> set[str]:
    macie = dcp.aws().client("macie2")
    criteria = {"criterion": {"classificationDetails.jobId": {"eq": [job_id]}}}
    ids = macie.list_findings(findingCriteria=criteria)["findingIds"]
    found = macie.get_findings(findingIds=ids)["findings"] if ids else []
    return {f["resourcesAffected"]["s3Object"]["key"] for f in found}


def test_a_cdc_round_classifies_only_what_it_wrote_then_nothing(lake: Dcp) -> None:
    first = lake("--output", "json", "scan").json()
    assert first["scope"]["full"] is True and "no earlier scan" in first["scope"]["reason"]
    before = _raw(lake)
    assert first["scope"]["objects"] == len(before)

    lake("seed", "--update-fraction", "0.05", "--seed", "5")
    second = lake("--output", "json", "scan").json()
    after = _raw(lake)
    written = {k for k, when in after.items() if before.get(k) != when}
    assert written, "the CDC round wrote no raw object"
    assert second["scope"]["full"] is False and second["scope"]["objects"] == len(written)

    jobs = _jobs(lake)
    assert len(jobs) == 2
    job = jobs[-1]
    terms = [t["simpleScopeTerm"] for t in job["s3JobDefinition"]["scoping"]["includes"]["and"]]
    assert [(t["key"], t["comparator"]) for t in terms] == [
        ("OBJECT_LAST_MODIFIED_DATE", "GTE"),
        ("OBJECT_LAST_MODIFIED_DATE", "LT"),
    ]
    # the ranges meet: this job starts where the first one ended, and no wait for an overlap
    assert terms[0]["values"] == [jobs[0]["tags"]["dcp:until"]] and terms[1]["values"] == [job["tags"]["dcp:until"]]
    # no object already classified and unchanged was classified again
    assert job["statistics"]["approximateNumberOfObjectsToProcess"] == len(written)
    assert _finding_keys(lake, job["jobId"]) <= written
    assert job["tags"]["dcp:identifiers"] == jobs[0]["tags"]["dcp:identifiers"]

    third = lake("scan")
    assert "nothing new or changed" in third.output
    assert len(_jobs(lake)) == 2


def test_dry_run_and_full_and_an_identifier_change(lake: Dcp) -> None:
    dry = lake("--output", "json", "scan", "--dry-run").json()
    assert dry["scope"]["full"] is False and dry["objects"] == [] and dry["scope"]["bytes"] == 0
    full = lake("--output", "json", "scan", "--dry-run", "--full").json()
    raw = _raw(lake)
    assert full["scope"]["full"] is True and {o["key"] for o in full["objects"]} == set(raw)
    assert full["scope"]["bytes"] == sum(o["bytes"] for o in full["objects"]) > 0
    assert full["scope"]["estimated_cost_usd"] == pytest.approx(full["scope"]["bytes"] / 1024**3 * 1.0, abs=1e-6)
    text = lake("scan", "--dry-run", "--full").output
    assert "estimated Macie cost" in text and "USD" in text

    # another managed identifier selection: the next scan classifies everything again, and says why
    lake.config.write_text(lake.config.read_text() + "macie: {managed_identifier_selection: ALL}\n")
    changed = lake("--output", "json", "scan", "--dry-run").json()
    assert changed["scope"]["full"] is True
    assert "identifier configuration changed" in changed["scope"]["reason"]
    assert len(changed["objects"]) == len(raw)
