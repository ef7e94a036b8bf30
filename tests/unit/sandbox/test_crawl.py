"""The sandbox crawler infers what Glue's crawler writes into the catalog."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dcp.sandbox.crawl import (
    LAZY_SIMPLE,
    OPEN_CSV,
    PARQUET_SERDE,
    CrawlError,
    DataFile,
    crawl,
    file_format,
    schema_changed,
)


def write(tmp: Path, rel: str, text: str) -> DataFile:
    p = tmp / rel.replace("/", "__")
    p.write_text(text)
    return DataFile(rel, p, p.stat().st_size)


def test_csv_folder_becomes_table_with_header_and_types(tmp_path: Path) -> None:
    f = write(
        tmp_path,
        "customer/LOAD00000001.csv",
        "id,name,balance,active,born,seen\n"
        "1,Ann,1.5,true,2001-02-03,2024-01-01 10:00:00\n"
        "2,Bob,,false,1999-12-31,2024-01-02 11:00:00\n",
    )
    (t,) = crawl("s3://raw/dataset/", [f])
    assert t.name == "customer"
    assert t.location == "s3://raw/dataset/customer/"
    assert t.columns == [
        ("id", "bigint"),
        ("name", "string"),
        ("balance", "double"),
        ("active", "boolean"),
        ("born", "date"),
        ("seen", "timestamp"),
    ]
    ti = t.table_input("raw_", crawler="c")
    assert ti["Name"] == "raw_customer"
    sd = ti["StorageDescriptor"]
    assert sd["SerdeInfo"]["SerializationLibrary"] == LAZY_SIMPLE
    assert sd["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"
    assert ti["Parameters"]["classification"] == "csv"
    assert ti["Parameters"]["skip.header.line.count"] == "1"


def test_quoted_csv_uses_open_csv_serde_and_cdc_op_column_is_merged(tmp_path: Path) -> None:
    load = write(tmp_path, "t/LOAD00000001.csv", 'id,note\n1,"a, b"\n2,c\n')
    cdc = write(tmp_path, "t/20261127-213000123.csv", "Op,id,note\nI,2,x\n")
    (t,) = crawl("s3://raw/db", [load, cdc])
    assert t.columns == [("id", "bigint"), ("note", "string"), ("op", "string")]
    assert t.storage_descriptor()["SerdeInfo"]["SerializationLibrary"] == OPEN_CSV
    assert t.object_count == 2


def test_csv_numbers_with_leading_zeros_stay_strings(tmp_path: Path) -> None:
    """A CSV raw zone must not turn card_number 060414234710 into 60414234710 or 093 into 93."""
    f = write(
        tmp_path,
        "card/LOAD00000001.csv",
        "id,card_number,security_code,amount\n1,460414234710,193,1.5\n2,060414234710,093,2.0\n",
    )
    (t,) = crawl("s3://raw/dataset/", [f])
    assert t.columns == [("id", "bigint"), ("card_number", "string"), ("security_code", "string"), ("amount", "double")]
    (h,) = crawl("s3://raw/x/", [write(tmp_path, "h/a.csv", "1,007\n2,8\n")])
    assert h.columns == [("col0", "bigint"), ("col1", "string")]


def test_parquet_raw_zone_takes_the_files_types(tmp_path: Path) -> None:
    p = tmp_path / "c.parquet"
    schema = pa.schema([("Op", pa.string()), ("id", pa.int32()), ("card_number", pa.string()), ("cvv", pa.int16())])
    pq.write_table(pa.table([["I"], [1], ["060414234710"], [93]], schema=schema), p)
    (t,) = crawl("s3://raw/dataset/", [DataFile("card/LOAD00000001.parquet", p, p.stat().st_size)])
    assert t.classification == "parquet"
    assert t.columns == [("op", "string"), ("id", "int"), ("card_number", "string"), ("cvv", "smallint")]


def test_headerless_csv_gets_col_names(tmp_path: Path) -> None:
    (t,) = crawl("s3://b/p", [write(tmp_path, "t/a.csv", "1,2\n3,4\n")])
    assert t.columns == [("col0", "bigint"), ("col1", "bigint")]
    assert "skip.header.line.count" not in t.parameters()


def test_parquet_partitions_and_json(tmp_path: Path) -> None:
    files = []
    for day in ("2026-01-01", "2026-01-02"):
        p = tmp_path / f"{day}.parquet"
        pq.write_table(pa.table({"id": pa.array([1], pa.int32()), "v": [1.0]}), p)
        files.append(DataFile(f"masked/customer/dt={day}/part-0.parquet", p, p.stat().st_size))
    files.append(write(tmp_path, "findings/x.json", '{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n'))
    files.append(write(tmp_path, "masked/_SUCCESS", "x"))
    tables = {
        t.name: t
        for t in crawl(
            "s3://cur/",
            [
                DataFile(f.relative_key.split("/", 1)[1], f.path, f.size) if f.relative_key.startswith("masked/") else f
                for f in files
            ],
        )
    }
    cust = tables["customer"]
    assert cust.classification == "parquet"
    assert cust.columns == [("id", "int"), ("v", "double")]
    assert cust.partition_keys == ["dt"]
    assert cust.partitions[("2026-01-01",)] == "s3://cur/customer/dt=2026-01-01/"
    assert cust.storage_descriptor()["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert tables["findings"].classification == "json"
    assert tables["findings"].columns == [("a", "bigint"), ("b", "string")]


def test_files_at_target_root_make_a_table_named_after_target(tmp_path: Path) -> None:
    (t,) = crawl("s3://b/findings/", [write(tmp_path, "f.json", '{"a": 1}\n')])
    assert t.name == "findings"
    assert t.location == "s3://b/findings/"


def test_unreadable_file_and_mixed_formats_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"not parquet")
    with pytest.raises(CrawlError, match=r"bad\.parquet"):
        crawl("s3://b/p", [DataFile("t/bad.parquet", bad, bad.stat().st_size)])
    with pytest.raises(CrawlError, match="mixes"):
        crawl("s3://b/p", [write(tmp_path, "t/a.csv", "a\n1\n"), write(tmp_path, "t/b.json", '{"a":1}\n')])


def test_file_format_and_schema_change() -> None:
    assert file_format("a/LOAD00000001.csv") == "csv"
    assert file_format("a/.hidden.csv") is None
    assert file_format("a/x.bin") is None
    a = {"StorageDescriptor": {"Columns": [{"Name": "a", "Type": "bigint"}]}, "Parameters": {}}
    b = {"StorageDescriptor": {"Columns": [{"Name": "a", "Type": "string"}]}, "Parameters": {}}
    assert schema_changed(a, b)
    assert not schema_changed(a, a)
