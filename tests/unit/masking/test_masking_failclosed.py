"""The pure fail-closed pieces: the table-matching rule, strict findings input, results, the plan."""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pytest

from dcp.masking.findings import Cell, Detection, Finding, Record, UnreadableFindings, read_findings, table_from_key
from dcp.masking.plan import MaskingPlan
from dcp.masking.policy import MaskingPolicy
from dcp.masking.results import read_discovery_results


@pytest.mark.parametrize(
    ("key", "table"),
    [
        ("dataset/customer/LOAD00000001.csv", "customer"),
        ("raw/dataset/customer/20261127-101500123.csv", "customer"),
        ("dataset/customer/2026/11/27/20261127-101500123.csv.gz", "customer"),
        ("exports/customer.csv", "customer"),
        ("customer.csv.gz", "customer"),
        ("exports/customer/part-0.parquet", "customer"),
        ("exports/customer/year=2026/month=11/part-00000-1f2e.snappy.parquet", "customer"),
        ("/tmp/x/exports/card.parquet", "card"),
    ],
)
def test_one_rule_names_the_table_of_dms_flat_and_folder_layouts(key: str, table: str) -> None:
    assert table_from_key(key) == table
    assert Finding(bucket="b", key=key).table == table


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{broken json", "invalid JSON"),
        (b"[1, 2]", "malformed finding"),
        (b"[]", "no findings"),
        (gzip.compress(b"{broken"), "invalid JSON"),
    ],
)
def test_unreadable_findings_raise_naming_the_source(data: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFindings) as failure:
        read_findings(data, "f.jsonl")
    assert str(failure.value).startswith("f.jsonl: ") and reason in str(failure.value)


def test_a_malformed_value_is_never_quoted() -> None:
    document = Finding(bucket="b", key="s/t/LOAD1.csv", detections=(Detection("NAME", 1, ("n",)),)).to_json()
    document["classificationDetails"]["result"]["sensitiveData"][0]["detections"][0]["count"] = "John Smith"
    with pytest.raises(UnreadableFindings) as failure:
        read_findings(json.dumps(document), "f.jsonl")
    assert "John" not in str(failure.value)


def _wide(count: int) -> Finding:
    cells = tuple(Cell(row=2, column=i + 1, column_name="") for i in range(2))
    return Finding(
        bucket="b", key="s/people/LOAD1.csv", detections=(Detection("EMAIL_ADDRESS", count, (), cells=cells),)
    )


SCHEMA = pa.schema([("a", pa.string()), ("b", pa.string()), ("c", pa.string())])


def test_cells_without_column_names_are_mapped_through_the_header() -> None:
    plan = MaskingPlan.for_tables([_wide(2)], MaskingPolicy(), {"people": SCHEMA}, lambda _: None)
    assert set(plan.tables["people"].columns) == {"a", "b"} and not plan.blocked


def test_uncovered_counts_use_the_results_then_the_detector_else_block() -> None:
    results = [
        Finding(
            bucket="b",
            key="s/people/LOAD1.csv",
            detections=(Detection("EMAIL_ADDRESS", 3, (), cells=tuple(Cell(2, i + 1, "") for i in range(3))),),
        )
    ]
    with_results = MaskingPlan.for_tables([_wide(3)], MaskingPolicy(), {"people": SCHEMA}, lambda _: None, results)
    assert set(with_results.tables["people"].columns) == {"a", "b", "c"} and not with_results.blocked

    detected = Finding(bucket="b", key="x", detections=(Detection("EMAIL_ADDRESS", 1, ("c",)),))
    by_detector = MaskingPlan.for_tables([_wide(3)], MaskingPolicy(), {"people": SCHEMA}, lambda _: detected)
    assert set(by_detector.tables["people"].columns) == {"a", "b", "c"}
    assert "people" in by_detector.detected

    blocked = MaskingPlan.for_tables([_wide(3)], MaskingPolicy(), {"people": SCHEMA}, lambda _: None)
    assert "people" not in blocked.tables and "EMAIL_ADDRESS" in blocked.blocked["people"]


def test_a_table_without_findings_gets_the_detectors_columns() -> None:
    detected = Finding(bucket="b", key="x", detections=(Detection("NAME", 2, ("b", "nosuch")),))
    plan = MaskingPlan.for_tables([], MaskingPolicy(), {"people": SCHEMA}, lambda _: detected)
    assert set(plan.tables["people"].columns) == {"b"}
    clean = MaskingPlan.for_tables([], MaskingPolicy(), {"people": SCHEMA}, lambda _: None)
    assert clean.tables["people"].columns == {} and not clean.blocked


def test_nested_json_paths_are_located_in_structs_and_lists() -> None:
    schema = pa.schema(
        [
            ("person", pa.struct([("name", pa.string()), ("email", pa.string())])),
            ("orders", pa.list_(pa.struct([("card", pa.string())]))),
        ]
    )
    records = (Record(0, "$.person.name"), Record(0, "$.orders[*].card"))
    finding = Finding(bucket="b", key="s/people/LOAD1.parquet", detections=(Detection("NAME", 2, (), records=records),))
    plan = MaskingPlan.for_tables([finding], MaskingPolicy(), {"people": schema}, lambda _: None)
    assert set(plan.tables["people"].columns) == {"person.name", "orders.card"} and not plan.blocked
    # a path the table lacks leaves that occurrence unlocated: not published without the detector
    missing = Record(1, "$.person.phone")
    finding = Finding(
        bucket="b", key="s/people/LOAD1.parquet", detections=(Detection("NAME", 3, (), records=(*records, missing)),)
    )
    plan = MaskingPlan.for_tables([finding], MaskingPolicy(), {"people": schema}, lambda _: None)
    assert "people" in plan.blocked and any("person.phone" in w for w in plan.warnings)


def test_discovery_results_are_gzip_json_lines_of_finding_shaped_records() -> None:
    record = Finding(bucket="b", key="s/people/LOAD1.csv", detections=(Detection("NAME", 1, ("a",)),)).to_json()
    del record["type"]
    body = gzip.compress((json.dumps(record) + "\n\n" + json.dumps(record) + "\n").encode())
    parsed = read_discovery_results(body, "s3://r/x.jsonl.gz")
    assert [r.table for r in parsed] == ["people", "people"]
    with pytest.raises(UnreadableFindings, match="line 1"):
        read_discovery_results(gzip.compress(b"{nope\n"), "s3://r/x.jsonl.gz")
