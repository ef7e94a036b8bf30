"""classify_source reads every supported format and writes Macie-shaped findings."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from dcp.masking.detect import classify_source
from dcp.masking.findings import Finding
from dcp.masking.identifiers import DEFAULT_CUSTOM_IDENTIFIERS, CustomIdentifier
from dcp.masking.readers import UnsupportedFormat
from dcp.masking.sample_data import generate_table

ROWS = [
    {"id": 1, "name": "Ryan Gallagher", "card_number": "4111 1111 1111 1111", "note": "Order 12345 shipped"},
    {"id": 2, "name": "Élodie Dupont", "card_number": "5500005555555559", "note": "paid by XYZ-77"},
    {"id": 3, "name": None, "card_number": "4111111111111112", "note": "no PII here"},
]


def csv_bytes(rows: list[dict[str, object]], delimiter: str = ",") -> bytes:
    buffer = io.BytesIO()
    pacsv.write_csv(pa.Table.from_pylist(rows), buffer, pacsv.WriteOptions(delimiter=delimiter))
    return buffer.getvalue()


def by_type(finding: Finding | None) -> dict[str, object]:
    assert finding is not None
    return {d.type: d for d in finding.detections}


def test_csv_cells_occurrences() -> None:
    finding = classify_source(
        csv_bytes(ROWS),
        key="sales/customer/LOAD0001.csv",
        bucket="raw",
        custom_identifiers=DEFAULT_CUSTOM_IDENTIFIERS,
    )
    detections = by_type(finding)
    card = detections["CREDIT_CARD_NUMBER"]
    assert card.count == 2 and card.columns == ("card_number",)
    # header is row 1, so data rows start at 2; columns are 1-based
    assert [(c.row, c.column, c.column_name) for c in card.cells] == [
        (2, 3, "card_number"),
        (3, 3, "card_number"),
    ]
    assert detections["NAME"].count == 2
    custom = detections["account_number"]
    assert custom.custom and custom.columns == ("note",) and custom.count == 1
    assert finding is not None and finding.table == "customer" and finding.bucket == "raw"
    data = finding.to_json()
    assert data["type"] == "SensitiveData:S3Object/Multiple"
    assert data["classificationDetails"]["result"]["mimeType"] == "text/csv"


def test_tsv_gzip_and_fmt_override(tmp_path: Path) -> None:
    path = tmp_path / "customer.tsv.gz"
    path.write_bytes(gzip.compress(csv_bytes(ROWS, delimiter="\t")))
    assert "CREDIT_CARD_NUMBER" in by_type(classify_source(path, key="s/customer/part.tsv.gz"))
    assert "NAME" in by_type(classify_source(csv_bytes(ROWS), key="s/customer/object", fmt="csv"))
    with pytest.raises(UnsupportedFormat, match="fmt="):
        classify_source(csv_bytes(ROWS), key="s/customer/object")


def test_json_lines_and_nested_records() -> None:
    lines = [{"id": 1, "customer": {"name": "Ryan Gallagher", "dob": "1980-03-04"}, "total": 10.5}]
    lines.append({"id": 2, "customer": {"name": "Jean Dupont", "dob": "1975-01-02"}, "total": 3.0})
    data = "\n".join(json.dumps(line) for line in lines).encode()
    detections = by_type(classify_source(data, key="s/orders/part-0.json"))
    birth = detections["DATE_OF_BIRTH"]
    assert birth.columns == ("customer.dob",)
    assert [(r.record_index, r.json_path) for r in birth.records] == [
        (0, "$.customer.dob"),
        (1, "$.customer.dob"),
    ]
    # a JSON array document works too
    array = json.dumps(lines).encode()
    assert "NAME" in by_type(classify_source(array, key="s/orders/all.json"))


def test_parquet_typed_columns(tmp_path: Path) -> None:
    table = generate_table("customer", 500, seed=4)
    path = tmp_path / "customer.parquet"
    pq.write_table(table, path)
    finding = classify_source(path, key="s/customer/LOAD1.parquet")
    detections = by_type(finding)
    assert detections["DATE_OF_BIRTH"].columns == ("birthdate",)  # a date32 column, cast to text
    assert detections["DATE_OF_BIRTH"].count == 500
    assert len(detections["DATE_OF_BIRTH"].records) == 15  # capped like Macie
    assert finding is not None and finding.size_classified == path.stat().st_size


def test_sample_limits_rows_and_ids_select_identifiers() -> None:
    table = generate_table("card", 3000, seed=5)
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    finding = classify_source(buffer.getvalue(), key="s/card/LOAD1.csv", sample=100)
    assert by_type(finding)["CREDIT_CARD_NUMBER"].count == 100
    only = classify_source(buffer.getvalue(), key="s/card/LOAD1.csv", managed_identifier_ids=["CREDIT_CARD_NUMBER"])
    assert set(by_type(only)) == {"CREDIT_CARD_NUMBER"}


def test_nothing_found_gives_none() -> None:
    assert classify_source(b"a,b\n1,2\n", key="s/t/x.csv") is None
    assert classify_source(b"a,b\n", key="s/t/x.csv") is None


def test_custom_identifier_with_keywords_in_a_finding() -> None:
    employee = CustomIdentifier(name="employee_id", regex=r"E\d{6}", keywords=("employee",))
    data = csv_bytes([{"ref": "employee E123456"}, {"ref": "E654321"}])
    detection = by_type(classify_source(data, key="s/hr/x.csv", custom_identifiers=[employee]))["employee_id"]
    assert detection.count == 1
    assert detection.arn == "arn:aws:macie2:us-east-1:000000000000:custom-data-identifier/employee_id"


@pytest.mark.slow
def test_structured_columns_are_classified_without_a_python_loop_over_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Per-cell Python (keyword distance, retries) only ever sees a small share of the rows."""
    from dcp.masking import checks, detect

    seen: list[int] = []
    original = detect._cells_matching

    def counting(rule, texts, *, keyword_needed):  # type: ignore[no-untyped-def]
        seen.append(len(texts))
        return original(rule, texts, keyword_needed=keyword_needed)

    monkeypatch.setattr(detect, "_cells_matching", counting)
    monkeypatch.setattr(detect, "DISTINCT_SCAN_RATIO", 0.0)  # no help from repeated values
    named: list[int] = []
    original_name = checks.name_valid
    monkeypatch.setitem(checks.CHECKS, checks.Check.NAME, lambda v: named.append(len(v)) or original_name(v))
    rows = 0
    for table in ("customer", "bank", "card", "notes", "orders"):
        buffer = io.BytesIO()
        pacsv.write_csv(generate_table(table, 5000, seed=3), buffer)
        classify_source(buffer.getvalue(), key=f"s/{table}/x.csv", custom_identifiers=DEFAULT_CUSTOM_IDENTIFIERS)
        rows += 5000
    assert sum(seen) < 0.01 * rows, seen


def test_a_name_inside_an_address_is_reported_as_the_address_only() -> None:
    table = pa.table(
        {
            "postal_address": [
                "12831 Melanie Field\nEast Nicholasville, MT 44462",
                "159 Charles Green\nDover, DC 14729",
            ],
            "customer": ["Maria Schmidt", "Jean Dupont"],
        }
    )
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer)
    finding = classify_source(buffer.getvalue(), key="crm/people/LOAD00000001.csv")
    assert finding is not None
    columns = {d.type: d.columns for d in finding.detections}
    assert columns["ADDRESS"] == ("postal_address",)
    assert columns["NAME"] == ("customer",)
    assert all(d.count > 0 for d in finding.detections)
