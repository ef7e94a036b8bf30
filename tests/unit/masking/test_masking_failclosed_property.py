"""Property: for any table and any findings input, `dcp mask` masks every PII value or writes nothing.

Tables are generated with e-mail and card columns (some nested in structs or lists, some with
nulls, wide ones with more PII columns than Macie lists occurrences for), plain columns of any
Unicode text, integers and floats; the findings input is none (classify first), dcp's own
findings, garbled bytes, findings about another table, findings stripped of their occurrences
or of their column names. Either the command exits 0 and no planted PII value is readable in
either output, or it exits non-zero and the output folder holds nothing.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from dcp.cli import cli
from dcp.masking.detect import classify_source

pytestmark = pytest.mark.slow

#: valid (Luhn) test card numbers
CARDS = ("4111111111111111", "5500005555555559", "4012888888881881", "378282246310005", "6011111111111117")
FINDINGS_KINDS = ("none", "valid", "garbled", "other_table", "no_occurrences", "no_column_names")


@pytest.fixture(scope="module")
def environment() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp, mock_aws():
        patch = pytest.MonkeyPatch()
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("DCP_TOKEN_KEY", "22" * 32)
        kms = boto3.client("kms", region_name="us-east-1")
        kms.create_alias(AliasName="alias/proptest-data", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
        config = Path(tmp) / "config.yaml"
        config.write_text("endpoint: aws\nproject:\n  prefix: proptest\n")
        yield config
        patch.undo()


@st.composite
def tables(draw: st.DrawFn) -> tuple[pa.Table, set[str], bool]:
    """A table, the PII values planted in it, and whether it has nested columns."""
    rows = draw(st.integers(1, 6))
    pii: set[str] = set()
    columns: dict[str, pa.Array] = {"id": pa.array(range(rows), pa.int64())}
    nested = False
    width = draw(st.sampled_from([1, 2, 17]))  # 17 e-mail columns: more than 15 occurrences listed
    for index in range(width):
        values = [
            None if draw(st.booleans()) and row else f"user{row}.c{index}{draw(st.sampled_from('abc'))}@example.com"
            for row in range(rows)
        ]
        pii.update(v for v in values if v)
        columns[f"mail_{index}"] = pa.array(values, pa.string())
    cards = [draw(st.sampled_from(CARDS)) for _ in range(rows)]
    pii.update(cards)
    shape = draw(st.sampled_from(["flat", "struct", "list"]))
    if shape == "flat":
        columns["card_number"] = pa.array(cards)
    elif shape == "struct":
        nested = True
        columns["payment"] = pa.array([{"card_number": c, "note": "ok"} for c in cards])
    else:
        nested = True
        columns["cards"] = pa.array([[c, None] if i % 2 else [c] for i, c in enumerate(cards)])
    columns["città"] = pa.array(draw(st.lists(st.text(max_size=12), min_size=rows, max_size=rows)), pa.string())
    columns["amount"] = pa.array(draw(st.lists(st.none() | st.floats(allow_nan=False), min_size=rows, max_size=rows)))
    return pa.table(columns), pii, nested


def _findings(kind: str, path: Path, key: str, garbage: bytes) -> bytes | None:
    if kind == "none":
        return None
    if kind == "garbled":
        return garbage
    finding = classify_source(str(path), key=key)
    assert finding is not None  # every generated table holds cards
    document = finding.to_json()
    document["resourcesAffected"]["s3Object"]["key"] = key
    result = document["classificationDetails"]["result"]
    detections = [d for g in result["sensitiveData"] for d in g["detections"]]
    if kind == "other_table":
        document["resourcesAffected"]["s3Object"]["key"] = "dataset/invoices/LOAD00000001.csv"
    elif kind == "no_occurrences":
        for detection in detections:
            detection["occurrences"] = {}
    elif kind == "no_column_names":
        for detection in detections:
            for cell in detection["occurrences"].get("cells") or []:
                cell["columnName"] = None
    return (json.dumps(document) + "\n").encode()


def _leaf_strings(table: pa.Table) -> set[str]:
    values: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                visit(item)
        elif isinstance(value, list):
            for item in value:
                visit(item)
        elif value is not None:
            values.add(str(value))

    for row in table.to_pylist():
        visit(row)
    return values


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(generated=tables(), kind=st.sampled_from(FINDINGS_KINDS), garbage=st.binary(max_size=40), csv=st.booleans())
def test_every_pii_value_is_masked_or_nothing_is_written(
    environment: Path, generated: tuple[pa.Table, set[str], bool], kind: str, garbage: bytes, csv: bool
) -> None:
    table, pii, nested = generated
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "exports"
        data.mkdir()
        if csv and not nested:
            path = data / "customer.csv"
            pacsv.write_csv(table.drop_columns(["amount"]), path)
        else:
            path = data / "customer.parquet"
            pq.write_table(table, path)
        out = Path(tmp) / "out"
        args = ["--config", str(environment), "mask", str(data), "--out", str(out)]
        findings = _findings(kind, path, f"exports/{path.name}", garbage)
        if findings is not None:
            (Path(tmp) / "f.jsonl").write_bytes(findings)
            args += ["--findings", str(Path(tmp) / "f.jsonl")]

        result = CliRunner().invoke(cli, args, env={"COLUMNS": "200"})

        if result.exit_code != 0:
            assert not out.exists() or not any(out.iterdir()), result.output
            assert result.exception is None or isinstance(result.exception, SystemExit), result.output
            return
        assert kind not in ("garbled", "other_table"), result.output
        written = list(out.glob("*.parquet"))
        assert written, result.output
        for output in written:
            leaked = pii & _leaf_strings(pq.read_table(output))
            assert not leaked, f"{output.name}: {len(leaked)} PII value(s) in plaintext"
