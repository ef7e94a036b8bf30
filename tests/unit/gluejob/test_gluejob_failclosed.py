"""The job fails closed: unreadable findings, unmatched tables, unlocated types, nested fields."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dcp.gluejob.job import run_job
from dcp.masking.findings import Cell, Detection, Finding, UnreadableFindings
from tests.unit.gluejob.gluejob_lake import Lake, finding_for
from tests.unit.gluejob.test_gluejob_script import run_script

pytestmark = pytest.mark.slow

PEOPLE = pa.table(
    {
        "id": ["1", "2", "3"],
        "mail": ["ann.lee@example.com", "bob.king@example.org", "cy.doe@example.net"],
        "acct_a": ["DE-0001", "DE-0002", "DE-0003"],
        "acct_b": ["DE-1001", "DE-1002", "DE-1003"],
    }
)


def _account_finding(lake: Lake, key: str, count: int) -> Finding:
    """A custom-identifier finding (dcp's detector has no custom identifiers in the job) that
    lists one occurrence in acct_a but counts ``count``."""
    detection = Detection(
        "account_number", count, ("acct_a",), custom=True, cells=(Cell(row=2, column=3, column_name="acct_a"),)
    )
    return Finding(bucket=lake.raw_bucket, key=key, detections=(detection,))


@pytest.mark.parametrize("body", [b"\x8f\x13\xff\x00garbage", b"{broken json", b""])
def test_an_unreadable_findings_object_stops_the_run_before_anything_is_written(lake: Lake, body: bytes) -> None:
    lake.put_raw("people", "LOAD00000001.csv", PEOPLE)
    lake.s3.put_object(Bucket=lake.findings_bucket, Key="findings/2024/01/01/broken", Body=body)

    with pytest.raises(UnreadableFindings, match="findings/2024/01/01/broken"):
        run_job(lake.args(), clients=lake.clients())
    assert lake.object_keys() == []

    result = run_script(lake, *lake.cli_args(engine="arrow"))
    assert result.returncode == 2
    assert "findings/2024/01/01/broken" in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr and lake.object_keys() == []


def test_a_table_no_finding_matches_is_masked_by_dcps_detector(lake: Lake) -> None:
    lake.put_raw("people", "LOAD00000001.csv", PEOPLE)
    other = lake.put_raw("card", "LOAD00000001.csv", pa.table({"id": ["1"], "name": ["Ann Lee"]}))
    lake.put_findings([finding_for(lake.raw_bucket, other, {"name": "NAME"})])

    report = run_job(lake.args(), clients=lake.clients())

    assert "people" in report.located_by_detector and "mail" in report.located_by_detector["people"]
    masked = lake.read("masked", "people")
    assert not set(PEOPLE.column("mail").to_pylist()) & set(masked.column("mail").to_pylist())


def test_a_type_no_column_can_be_located_for_is_not_published(lake: Lake) -> None:
    key = lake.put_raw("people", "LOAD00000001.csv", PEOPLE)
    lake.put_findings([_account_finding(lake, key, count=6)])

    report = run_job(lake.args(), clients=lake.clients())

    assert "people" in report.not_published and "account_number" in report.not_published["people"]
    assert lake.object_keys("masked/people/") == [] and lake.object_keys("encrypted/people/") == []
    result = run_script(lake, *lake.cli_args(engine="arrow"))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]  # what Glue records as the run's ErrorMessage
    assert "people" in last and "account_number" in last
    assert "DE-1001" not in result.stderr + result.stdout


def test_discovery_results_locate_the_occurrences_the_finding_does_not_list(lake: Lake) -> None:
    key = lake.put_raw("people", "LOAD00000001.csv", PEOPLE)
    lake.put_findings([_account_finding(lake, key, count=6)])
    record = _account_finding(lake, key, count=6).to_json()
    detection = record["classificationDetails"]["result"]["customDataIdentifiers"]["detections"][0]
    # as Macie writes them: every occurrence, cells named only by index (no header names)
    detection["occurrences"] = {
        "cells": [{"row": r, "column": c, "columnName": None, "cellReference": None} for r in (2, 3, 4) for c in (3, 4)]
    }
    del record["type"]
    body = gzip.compress((json.dumps(record) + "\n").encode())
    results_key = "macie/AWSLogs/123456789012/Macie/us-east-1/job1/obj-1.jsonl.gz"
    lake.s3.put_object(Bucket=lake.findings_bucket, Key=results_key, Body=body)

    report = run_job(lake.args(discovery_results=f"s3://{lake.findings_bucket}/macie/"), clients=lake.clients())

    assert report.not_published == {}
    masked = lake.read("masked", "people")
    for column in ("acct_a", "acct_b"):
        assert not set(PEOPLE.column(column).to_pylist()) & set(masked.column(column).to_pylist())


def test_nested_parquet_members_and_list_elements_are_masked_in_place(lake: Lake) -> None:
    import io

    table = pa.table(
        {
            "id": [1, 2],
            "person": [{"name": "Ann Lee", "email": "ann.lee@example.com"}, None],
            "cards": [["4111111111111111"], ["5500005555555559", None]],
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    lake.put_raw("people", "LOAD00000001.parquet", sink.getvalue())

    report = run_job(lake.args(), clients=lake.clients())  # no finding: dcp's detector locates them

    assert report.not_published == {}
    masked = lake.read("masked", "people").sort_by("id").to_pylist()
    assert masked[1]["person"] is None and masked[1]["cards"][1] is None
    assert masked[0]["person"]["email"] != "ann.lee@example.com"
    assert masked[0]["cards"][0] != "4111111111111111" and masked[0]["cards"][0].endswith("1111")
    blob = b"".join(lake.objects("masked/").values())
    assert b"ann.lee@example.com" not in blob and b"4111111111111111" not in blob


def test_the_jobs_detector_knows_the_custom_identifiers_it_is_given(lake: Lake) -> None:
    from dcp.gluejob.args import custom_identifiers_from_json, custom_identifiers_to_json
    from dcp.masking.identifiers import CustomIdentifier

    key = lake.put_raw("people", "LOAD00000001.csv", PEOPLE)
    lake.put_findings([_account_finding(lake, key, count=6)])
    identifiers = (CustomIdentifier("account_number", r"DE-\d{4}", keywords=("acct",)),)
    assert custom_identifiers_from_json(custom_identifiers_to_json(identifiers)) == identifiers

    report = run_job(lake.args(custom_identifiers=identifiers), clients=lake.clients())

    assert report.not_published == {} and "acct_b" in report.located_by_detector["people"]
    masked = lake.read("masked", "people")
    assert not set(PEOPLE.column("acct_b").to_pylist()) & set(masked.column("acct_b").to_pylist())
