"""Reading the lake from S3 (moto): DMS CSV with CDC applied by key, Parquet row counts from footers."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from dcp.aws.session import AwsContext
from dcp.pipeline.demo import cdc_change, compare_with_source
from dcp.pipeline.lake import prefix_row_count, raw_current_ids, read_parquet_prefix
from dcp.pipeline.seed import TableRows
from dcp.pipeline.status import latest_job

BUCKET = "lake"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsContext]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    with mock_aws():
        ctx = AwsContext.create(region="us-east-1")
        ctx.client("s3").create_bucket(Bucket=BUCKET)
        yield ctx


def _put(aws: AwsContext, key: str, body: bytes) -> None:
    aws.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)


def test_raw_ids_apply_change_files_in_order_with_or_without_headers(aws: AwsContext) -> None:
    _put(aws, "dataset/card/LOAD00000001.csv", b"1,visa,4111\n2,amex,3782\n")
    _put(aws, "dataset/card/LOAD00000002.csv", b'id,provider,card_number\n3,"jcb, 16",3589\n')
    _put(aws, "dataset/card/20260101-120000000.csv", b"U,1,visa,4222\nD,2,amex,3782\nI,4,visa,4000\n")
    _put(aws, "dataset/card/20260101-120500000.csv", b"Op,id,provider,card_number\nD,4,visa,4000\nI,2,x,y\n")
    _put(aws, "dataset/other/LOAD00000001.csv", b"9,a,b\n")
    assert raw_current_ids(aws, BUCKET, "dataset/card/") == {"1", "2", "3"}
    assert raw_current_ids(aws, BUCKET, "dataset/none/") == set()


@pytest.mark.parametrize("header", [b"Op,id,provider,card_number\n", b""])
def test_raw_ids_read_full_load_files_with_dms_op_column(aws: AwsContext, header: bytes) -> None:
    """IncludeOpForFullLoad: the LOAD file starts with Op (always I), like the change files."""
    _put(aws, "dataset/card/LOAD00000001.csv", header + b"I,1,visa,4111\nI,2,amex,3782\n")
    _put(aws, "dataset/card/20260101-120000000.csv", header + b"D,2,amex,3782\nI,5,visa,4000\n")
    assert raw_current_ids(aws, BUCKET, "dataset/card/") == {"1", "5"}


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_raw_ids_read_dms_parquet_files_with_op(aws: AwsContext) -> None:
    """DataFormat parquet (the stack's): Op first, the key column by position after it."""
    load = pa.table({"Op": ["I", "I"], "id": pa.array([1, 2], pa.int64()), "card_number": ["0411", "0782"]})
    cdc = pa.table({"Op": ["D", "I"], "id": pa.array([2, 5], pa.int64()), "card_number": ["0782", "0400"]})
    _put(aws, "dataset/card/LOAD00000001.parquet", _parquet(load))
    _put(aws, "dataset/card/20260101-120000000.parquet", _parquet(cdc))
    _put(aws, "dataset/card/LOAD00000002.parquet", _parquet(pa.table({"id": [7], "card_number": ["1"]})))
    assert raw_current_ids(aws, BUCKET, "dataset/card/") == {"1", "5", "7"}


def test_parquet_rows_are_counted_from_footers_and_tables_concatenate(aws: AwsContext) -> None:
    meta = {b"dcp:table": b"card"}
    _put(aws, "masked/card/part-0.parquet", _parquet(pa.table({"id": [1, 2, 3]}).replace_schema_metadata(meta)))
    _put(aws, "masked/card/part-1.parquet", _parquet(pa.table({"id": [4, 5]})))
    _put(aws, "masked/card/_SUCCESS", b"")
    assert prefix_row_count(aws, BUCKET, "masked/card/") == 5
    assert prefix_row_count(aws, BUCKET, "masked/bank/") is None
    table = read_parquet_prefix(aws, BUCKET, "masked/card/")
    assert table is not None and table.column("id").to_pylist() == [1, 2, 3, 4, 5]
    assert table.schema.metadata == meta


def test_revealed_columns_are_compared_with_the_source_by_key() -> None:
    source = TableRows("card", ("id", "card_number"), [[1, "4111"], [2, "3782"]])
    revealed = pa.table({"id": ["2", "1"], "card_number": ["3782", "4111"]})
    assert compare_with_source(revealed, ["card_number"], source).equal
    wrong = pa.table({"id": ["2", "1"], "card_number": ["3782", "0000"]})
    check = compare_with_source(wrong, ["card_number"], source)
    assert not check.equal and check.mismatched == 1
    short = pa.table({"id": ["1"], "card_number": ["4111"]})
    assert not compare_with_source(short, ["card_number"], source).equal


def test_cdc_change_counts_and_shows_a_changed_masked_value() -> None:
    before = {1: {"id": 1, "mail": "tok_a"}, 2: {"id": 2, "mail": "tok_b"}, 3: {"id": 3, "mail": "tok_c"}}
    after = {1: {"id": 1, "mail": "tok_a"}, 2: {"id": 2, "mail": "tok_x"}, 4: {"id": 4, "mail": "tok_d"}}
    change = cdc_change(before, after, ["mail"])
    assert (change.rows_before, change.rows_after, change.inserted, change.deleted, change.changed) == (
        3,
        3,
        1,
        1,
        1,
    )
    assert change.example == (2, "mail", "tok_b", "tok_x")


def test_latest_job_is_the_newest_of_this_stack() -> None:
    jobs = [
        {"name": "dcp-scan-1", "createdAt": "2026-01-01T00:00:00"},
        {"name": "dcp-scan-2", "createdAt": "2026-01-02T00:00:00"},
        {"name": "other-scan-3", "createdAt": "2026-01-03T00:00:00"},
    ]
    assert latest_job(jobs, "dcp") == jobs[1]
    assert latest_job([], "dcp") is None


def test_cdc_example_falls_back_to_any_column_that_changed() -> None:
    before = {1: {"id": 1, "mail": "****", "username": "u1"}}
    after = {1: {"id": 1, "mail": "****", "username": "u2"}}
    assert cdc_change(before, after, ["mail"]).example == (1, "username", "u1", "u2")
    both = {1: {"id": 1, "mail": "t2", "username": "u2"}}
    assert cdc_change(before, both, ["mail"]).example == (1, "mail", "****", "t2")
