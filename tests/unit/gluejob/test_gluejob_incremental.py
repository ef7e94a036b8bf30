"""Incremental runs (Arrow engine, moto): only unapplied change files are read, only touched buckets
rewritten, and after any sequence of full and incremental runs the output equals a full rebuild."""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest

from dcp.gluejob.incremental import Manifest, bucket_of, manifest_key
from dcp.gluejob.job import JobReport, run_job
from dcp.masking.findings import Cell, Detection, Finding
from tests.unit.gluejob.gluejob_lake import SAMPLE_COLUMNS, SAMPLE_POLICY, Lake, finding_for, put_sample_tables
from tests.unit.gluejob.incremental_rounds import (
    Model,
    cdc_round,
    decrypted,
    expected_rows,
    reference_lake,
    wrapped_keys,
)

TABLES = ["bank", "card", "customer", "orders"]
CHANGED = ["bank", "customer", "orders"]

# Several job runs per test against a moto server: minutes, not seconds.
pytestmark = pytest.mark.slow


def reads_of(clients: Any) -> list[str]:
    """The S3 keys ``clients.s3`` gets from now on."""
    keys: list[str] = []
    clients.s3.meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: keys.append(params["Key"])
    )
    return keys


def run(lake: Lake, **overrides: Any) -> tuple[JobReport, list[str]]:
    clients = lake.clients()
    reads = reads_of(clients)
    report = run_job(lake.args(policy=SAMPLE_POLICY, buckets=16, **overrides), clients=clients)
    return report, reads


def by_table(report: JobReport) -> dict[str, Any]:
    return {t.table: t for t in report.tables}


def assert_equal_to_a_full_rebuild(lake: Lake, reference: Lake, model: Model) -> None:
    rebuilt = run_job(reference.args(policy=SAMPLE_POLICY, buckets=16, full_rebuild=True), clients=reference.clients())
    assert {t.mode for t in rebuilt.tables} == {"full"}
    ours, theirs = decrypted(lake, TABLES), decrypted(reference, TABLES)
    assert ours.keys() == theirs.keys()
    for name, table in theirs.items():
        assert ours[name].equals(table), f"{name} differs from a full rebuild"
    for table in SAMPLE_COLUMNS:
        assert ours["encrypted", table].to_pylist() == expected_rows(model, table)
    assert ours["masked", "orders"].to_pylist() == expected_rows(model, "orders")


def test_rounds_of_changes_read_only_new_files_and_equal_a_full_rebuild(lake: Lake) -> None:
    raw = put_sample_tables(lake, 400)
    model = Model.of(raw)
    reference = reference_lake(lake)
    first, _ = run(lake)
    assert {t.mode for t in first.tables} == {"full"}
    keys_before = {table: wrapped_keys(lake, "encrypted", table) for table in SAMPLE_COLUMNS}
    assert all(len(keys) == 1 for keys in keys_before.values())
    rng = random.Random(14)

    for round_no in (1, 2, 3):
        new = {table: cdc_round(lake, model, table, round_no, rng) for table in CHANGED}
        applied_raw = [k for k in _raw_keys(lake) if not any(k in files for files in new.values())]
        before = set(lake.object_keys())

        report, reads = run(lake)

        tables = by_table(report)
        assert tables["card"].mode == "unchanged" and tables["card"].output_bytes_written == 0
        for table in CHANGED:
            assert tables[table].mode == "incremental"
            assert tables[table].raw_files_read == 2
        assert not set(reads) & set(applied_raw), "an applied raw file was read again"
        assert {k for k in reads if k.startswith(lake.raw_prefix)} == {k for files in new.values() for k in files}
        rewritten = set(lake.object_keys()) - before
        for table in CHANGED:  # exactly the buckets of the changed keys, masked and encrypted
            touched = set(bucket_of(pa.array(sorted(model.touched[table])), 16).to_pylist())
            kinds = ("masked", "encrypted") if table in SAMPLE_COLUMNS else ("masked",)
            assert {k for k in rewritten if k.split("/")[1] == table} == {
                k for k in lake.object_keys() if k.split("/")[1] == table and _bucket(k) in touched
            }
            assert len({k for k in rewritten if k.split("/")[1] == table}) == len(touched) * len(kinds)
            assert tables[table].buckets_rewritten == len(touched)
        for table in SAMPLE_COLUMNS:  # still one data key per table: the first run's
            assert wrapped_keys(lake, "encrypted", table) == keys_before[table]
        assert_equal_to_a_full_rebuild(lake, reference, model)


def test_full_and_incremental_runs_mixed_converge_after_a_crash_and_a_plan_change(lake: Lake) -> None:
    raw = put_sample_tables(lake, 300)
    model = Model.of(raw)
    reference = reference_lake(lake)
    rng = random.Random(7)
    run(lake)
    for table in CHANGED:
        cdc_round(lake, model, table, 1, rng)
    run(lake, full_rebuild=True)  # a full rebuild in between: the next round starts from it

    for table in CHANGED:
        cdc_round(lake, model, table, 2, rng)
    # a run that crashed after writing a part and before its manifest: the part is not published
    stray = lake.object_keys("masked/customer/")[0]
    body = lake.s3.get_object(Bucket=lake.curated_bucket, Key=stray)["Body"].read()
    lake.s3.put_object(Bucket=lake.curated_bucket, Key="masked/customer/part-00003-crashed.parquet", Body=body)
    report, _ = run(lake)
    assert by_table(report)["customer"].mode == "incremental"
    assert "masked/customer/part-00003-crashed.parquet" not in lake.object_keys()
    assert_equal_to_a_full_rebuild(lake, reference, model)

    # a new finding flags another column: the masked cells of every row change, so a full rebuild
    for table in CHANGED:
        cdc_round(lake, model, table, 3, rng)
    username = {**SAMPLE_COLUMNS["customer"], "username": "NAME"}
    key = lake.raw_key("customer", "LOAD00000001.csv")
    lake.put_findings([finding_for(lake.raw_bucket, key, username)], name="findings/2024/03/01/delivery-2")
    report, _ = run(lake)
    assert by_table(report)["customer"].mode == "full" and by_table(report)["bank"].mode == "incremental"
    assert set(lake.read("masked", "customer").column("username").to_pylist()) == {"****"}


def test_an_incremental_run_fails_closed_and_keeps_the_previous_output(lake: Lake) -> None:
    raw = put_sample_tables(lake, 200)
    model = Model.of(raw)
    run(lake)
    before = lake.objects("masked/customer/") | lake.objects("encrypted/customer/")
    manifest = lake.objects(manifest_key("customer"))
    files = cdc_round(lake, model, "customer", 1, random.Random(3))
    # Macie reports a type in the new change file that no column can be located for
    unlocated = Detection("account_number", 9, (), custom=True, cells=(Cell(row=2, column=2, column_name=""),))
    lake.put_findings(
        [Finding(bucket=lake.raw_bucket, key=files[0], detections=(unlocated,))], name="findings/2024/01/02/bad"
    )

    report, _ = run(lake)

    assert "customer" in report.not_published
    assert lake.objects("masked/customer/") | lake.objects("encrypted/customer/") == before
    assert lake.objects(manifest_key("customer")) == manifest  # the change stays unapplied
    lake.s3.delete_object(Bucket=lake.findings_bucket, Key="findings/2024/01/02/bad")
    report, _ = run(lake)
    assert by_table(report)["customer"].mode == "incremental" and report.not_published == {}
    assert_equal_to_a_full_rebuild(lake, reference_lake(lake), model)


@pytest.mark.parametrize("buckets", [1, 7, 64])
def test_bucket_of_is_stable_and_in_range(buckets: int) -> None:
    keys = pa.array(["1", "2", "ORD-2024-000001", None, "héllo"])
    first = bucket_of(keys, buckets).to_pylist()
    assert first == bucket_of(keys, buckets).to_pylist()
    assert all(0 <= b < buckets for b in first) and first[3] == 0
    assert bucket_of(pa.array([12]), 64).to_pylist() == bucket_of(pa.array(["12"]), 64).to_pylist()


def test_the_manifest_round_trips_and_a_new_bucket_count_rebuilds(lake: Lake) -> None:
    put_sample_tables(lake, 60, decoys=())
    run(lake)
    body = lake.objects(manifest_key("bank"))[manifest_key("bank")]
    manifest = Manifest.from_bytes(body, "test")
    assert Manifest.from_bytes(manifest.to_bytes(), "test") == manifest
    assert manifest.buckets == 16 and manifest.applied == [(lake.raw_key("bank", "LOAD00000001.csv"), _size(lake))]
    outputs = lake.object_keys("masked/bank/") + lake.object_keys("encrypted/bank/")
    assert {p.key for p in manifest.parts} == set(outputs)
    report = run_job(lake.args(policy=SAMPLE_POLICY, buckets=4), clients=lake.clients())
    assert {t.mode for t in report.tables} == {"full"}
    assert len(lake.object_keys("masked/bank/")) <= 4


def _bucket(key: str) -> int:
    return int(key.rsplit("/", 1)[1].split("-")[1])


def _raw_keys(lake: Lake) -> list[str]:
    pages = lake.s3.get_paginator("list_objects_v2").paginate(Bucket=lake.raw_bucket)
    return [item["Key"] for page in pages for item in page.get("Contents") or []]


def _size(lake: Lake) -> int:
    head = lake.s3.head_object(Bucket=lake.raw_bucket, Key=lake.raw_key("bank", "LOAD00000001.csv"))
    return int(head["ContentLength"])


def test_a_data_key_the_job_cannot_unwrap_rebuilds_the_table_with_a_new_one(lake: Lake) -> None:
    import base64

    from dcp.gluejob.incremental import save_manifest

    raw = put_sample_tables(lake, 100, decoys=())
    model = Model.of(raw)
    run(lake)
    old_keys = wrapped_keys(lake, "encrypted", "customer")
    body = lake.objects(manifest_key("customer"))[manifest_key("customer")]
    manifest = Manifest.from_bytes(body, "test")
    manifest.key_metadata["dcp:wrapped_key"] = base64.b64encode(b"not a key KMS made").decode()
    save_manifest(lake.s3, lake.curated_bucket, manifest)
    cdc_round(lake, model, "customer", 1, random.Random(1))

    report, _ = run(lake)

    assert by_table(report)["customer"].mode == "full"
    new_keys = wrapped_keys(lake, "encrypted", "customer")
    assert len(new_keys) == 1 and new_keys != old_keys  # still one data key for the whole table
    assert decrypted(lake, ["customer"])["encrypted", "customer"].to_pylist() == expected_rows(model, "customer")
