"""DMS's S3 CSV layout as the sandbox writes it: quoting, nulls, file splits, rules, change diff."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from dcp.sandbox.emulators.dms.csvout import CsvFormat, SplitFileWriter, lines_to_bytes, render_lines
from dcp.sandbox.emulators.dms.models import Snapshot, cdc_file_name, selected, target_spec


def test_rfc4180_quoting_only_where_needed_and_null_as_empty() -> None:
    batch = pa.record_batch(
        {
            "id": [1, 2, None],
            "note": ["plain", 'say "hi", twice', "two\nlines"],
            "ok": [True, False, None],
        }
    )
    body = lines_to_bytes(render_lines(batch, CsvFormat()), "\n").decode()
    assert body.splitlines()[0] == "1,plain,true"
    assert list(csv.reader(io.StringIO(body))) == [
        ["1", "plain", "true"],
        ["2", 'say "hi", twice', "false"],
        ["", "two\nlines", ""],
    ]
    piped = lines_to_bytes(render_lines(batch, CsvFormat(delimiter="|", null_value="NULL")), "\r\n")
    assert piped.split(b"\r\n")[0] == b"1|plain|true"
    assert piped.split(b"\r\n")[1] == b'2|"say ""hi"", twice"|false'


def test_split_writer_starts_a_new_file_before_max_bytes(tmp_path: Path) -> None:
    shipped: list[tuple[int, bytes]] = []
    writer = SplitFileWriter(tmp_path, b"id\n", 20, lambda p, n: shipped.append((n, p.read_bytes())))
    writer.write(pa.array([str(i) * 4 for i in range(10)]), "\n")
    assert writer.close() == len(shipped) > 1
    assert all(len(body) <= 20 for _, body in shipped)
    assert all(body.startswith(b"id\n") for _, body in shipped)
    assert b"".join(body[3:] for _, body in shipped) == b"".join(f"{str(i) * 4}\n".encode() for i in range(10))


def test_target_settings_and_selection_rules() -> None:
    spec = target_spec({"BucketName": "raw", "BucketFolder": "dms/", "AddColumnName": True}, None)
    assert (
        spec.csv.header
        and spec.key("dataset", "customer", "LOAD00000001.csv") == "dms/dataset/customer/LOAD00000001.csv"
    )
    assert target_spec({}, "bucketName=b;addColumnName=true;csvDelimiter=|").csv.delimiter == "|"
    rules = [
        {
            "rule-type": "selection",
            "rule-action": "include",
            "object-locator": {"schema-name": "data%", "table-name": "%"},
        },
        {
            "rule-type": "selection",
            "rule-action": "exclude",
            "object-locator": {"schema-name": "%", "table-name": "audit"},
        },
    ]
    assert selected(rules, "dataset", "customer")
    assert not selected(rules, "dataset", "audit")
    assert not selected(rules, "other", "customer")
    assert cdc_file_name(datetime(2026, 11, 27, 21, 30, 0, 123456, tzinfo=UTC)) == "20261127-213000123.csv"


def test_snapshot_diff_yields_inserts_updates_deletes(tmp_path: Path) -> None:
    snap = Snapshot(tmp_path / "t.sqlite")
    snap.begin()
    snap.add(pa.array(["1", "2", "3"]), pa.array(["1,a", "2,b", "3,c"]))
    snap.commit()
    snap.begin()
    snap.add(pa.array(["1", "2", "4"]), pa.array(["1,a", "2,B", "4,d"]))
    assert sorted(snap.changes()) == [("D", "3", "3,c"), ("I", "4", "4,d"), ("U", "2", "2,B")]
    snap.commit()
    snap.begin()
    snap.add(pa.array(["1", "2", "4"]), pa.array(["1,a", "2,B", "4,d"]))
    assert list(snap.changes()) == []
    snap.close()


def test_parquet_types_follow_dms_mapping_and_never_change_a_value() -> None:
    import datetime as dt

    import sqlalchemy as sa

    from dcp.sandbox.emulators.dms.parquetout import arrow_type, typed_array

    expected = {
        sa.SmallInteger(): pa.int16(),
        sa.Integer(): pa.int32(),
        sa.BigInteger(): pa.int64(),
        sa.Numeric(12, 2): pa.decimal128(12, 2),
        sa.Numeric(): pa.string(),
        sa.Float(): pa.float64(),
        sa.Boolean(): pa.bool_(),
        sa.Date(): pa.date32(),
        sa.DateTime(): pa.timestamp("us"),
        sa.DateTime(timezone=True): pa.timestamp("us", tz="UTC"),
        sa.LargeBinary(): pa.binary(),
        sa.String(20): pa.string(),
        sa.Text(): pa.string(),
    }
    for column_type, arrow in expected.items():
        assert arrow_type(column_type, "postgresql") == arrow, column_type
    assert arrow_type(sa.Integer(), "sqlite") == pa.int64()  # SQLite's INTEGER holds 64 bits
    # SQLite stores anything anywhere: a value that does not fit its column's type stays text
    assert typed_array([1, "0123", None], pa.int64()).to_pylist() == ["1", "0123", None]
    assert typed_array([dt.date(2020, 1, 2), None], pa.date32()).type == pa.date32()
