"""The mask-PII job on Spark (local mode) writes what the Arrow engine writes, and no plaintext."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dcp.gluejob.arrow_engine import run_table_arrow
from dcp.gluejob.incremental import bucket_of
from dcp.gluejob.job import run_job
from dcp.gluejob.keys import create_table_key
from dcp.gluejob.output import OutputTarget
from dcp.gluejob.rawdata import discover_tables, sample_schema
from dcp.gluejob.spark_engine import run_table_spark
from dcp.gluejob.tablejob import JobSecrets, TableJob
from dcp.masking.plan import MaskingPlan
from dcp.masking.policy import Action
from dcp.masking.sample_data import generate_table
from tests.unit.gluejob.gluejob_lake import (
    SAMPLE_COLUMNS,
    SAMPLE_POLICY,
    TOKEN_KEY,
    Lake,
    as_read_by_the_job,
    assert_no_plaintext,
    decrypt_columns,
    finding_for,
    put_sample_tables,
)
from tests.unit.gluejob.incremental_rounds import Model, cdc_round, decrypted, reference_lake

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark")]

SCRIPT = Path(__file__).resolve().parents[2] / "glue_jobs" / "mask_pii.py"

KEY_COLUMN = {"customer": "id", "bank": "id", "card": "id", "orders": "order_id"}


def encrypt_action_columns(table: str) -> list[str]:
    return [c for c, t in SAMPLE_COLUMNS.get(table, {}).items() if SAMPLE_POLICY.action_for(t) is Action.ENCRYPT]


def snapshot(lake: Lake, run_id: str) -> dict[tuple[str, str], pa.Table]:
    """Every output table of one run, sorted by key, with its encrypted columns decrypted."""
    out = {}
    for table, key in KEY_COLUMN.items():
        masked = lake.read("masked", table, run_id)
        if encrypt_action_columns(table):
            masked = decrypt_columns(masked, lake.crypto("masked", table, run_id), encrypt_action_columns(table))
        out["masked", table] = masked.sort_by(key).replace_schema_metadata(None)
        if table in SAMPLE_COLUMNS:
            encrypted = lake.read("encrypted", table, run_id)
            plain = decrypt_columns(encrypted, lake.crypto("encrypted", table, run_id), list(SAMPLE_COLUMNS[table]))
            out["encrypted", table] = plain.sort_by(key).replace_schema_metadata(None)
    return out


def test_spark_output_equals_the_arrow_engine_on_the_sample_tables(lake: Lake, spark: Any) -> None:
    raw = put_sample_tables(lake, 3000, files=2)
    args = lake.args(policy=SAMPLE_POLICY)

    arrow_run = run_job(args, clients=lake.clients())
    expected = snapshot(lake, arrow_run.run_id)
    # a full rebuild: a second run over the same raw files would find nothing to apply
    spark_run = run_job(dataclasses.replace(args, full_rebuild=True), clients=lake.clients(), spark=spark)
    actual = snapshot(lake, spark_run.run_id)

    assert actual.keys() == expected.keys()
    for name, table in expected.items():
        assert actual[name].equals(table), f"{name} differs between the engines"
    for table in SAMPLE_COLUMNS:
        assert actual["encrypted", table].equals(raw[table].sort_by("id"))
    assert [t.rows for t in spark_run.tables] == [3000] * 4
    assert max(t.masked_parts for t in spark_run.tables) >= 2  # the rows were spread over the workers
    assert all(spark_run.run_id in key for key in lake.object_keys())  # the Arrow run's output was replaced
    assert assert_no_plaintext(lake, raw) > 5000


def test_with_one_data_key_both_engines_write_identical_cells(lake: Lake, spark: Any, tmp_path: Path) -> None:
    raw = put_sample_tables(lake, 2000, decoys=())
    s3 = lake.s3
    bank = discover_tables(s3, lake.raw_bucket, lake.raw_prefix, ["bank"])[0]
    schema = sample_schema(s3, bank, tmp_path)
    finding = finding_for(lake.raw_bucket, lake.raw_key("bank", "LOAD00000001.csv"), SAMPLE_COLUMNS["bank"])
    plan = MaskingPlan.from_findings([finding], SAMPLE_POLICY, {"bank": schema}).tables["bank"]
    secrets = JobSecrets(TOKEN_KEY, create_table_key(lake.client("kms"), lake.key_id, "bank")[1])

    def job(run_id: str) -> TableJob:
        return TableJob(bank, schema, plan, OutputTarget(lake.curated_bucket, "bank", run_id), batch_size=700)

    run_table_arrow(s3, job("arrow"), secrets)
    parts = run_table_spark(spark, job("spark"), secrets)

    assert len([p for p in parts if p.kind == "masked"]) == job("spark").buckets  # one part per key-hash bucket
    for kind in ("masked", "encrypted"):
        arrow_out = lake.read(kind, "bank", "arrow").sort_by("id")
        spark_out = lake.read(kind, "bank", "spark").sort_by("id")
        assert arrow_out.schema.metadata == spark_out.schema.metadata  # wrapped key, algorithm, columns
        siv = ["account_number"]  # joinable: deterministic AES-SIV, equal ciphertexts
        assert arrow_out.select(siv).equals(spark_out.select(siv))
        gcm = [
            c for c in SAMPLE_COLUMNS["bank"] if c not in siv and c in arrow_out.column_names and kind == "encrypted"
        ]
        crypto = secrets.table_key.crypto() if secrets.table_key else None
        assert crypto is not None
        rest = [c for c in arrow_out.column_names if c not in gcm]
        assert arrow_out.select(rest).equals(spark_out.select(rest))
        assert decrypt_columns(arrow_out, crypto, gcm).equals(decrypt_columns(spark_out, crypto, gcm))
    revealed = decrypt_columns(lake.read("encrypted", "bank", "spark"), crypto, list(SAMPLE_COLUMNS["bank"]))
    assert revealed.sort_by("id").replace_schema_metadata(None).equals(raw["bank"].sort_by("id"))


def test_spark_applies_inserts_updates_and_deletes_like_the_arrow_engine(lake: Lake, spark: Any) -> None:
    rows = 1500
    customer = as_read_by_the_job(generate_table("customer", rows, seed=7))
    first_key = lake.put_raw("customer", "LOAD00000001.csv", customer)
    replacements = as_read_by_the_job(generate_table("customer", 400, seed=8)).drop_columns(["id"])
    rng = random.Random(3)
    expected = {row["id"]: row for row in customer.to_pylist()}
    fresh = iter(replacements.to_pylist())
    for name in ("20240101-101500123.csv", "20240101-120000000.csv", "20240102-000000001.csv"):
        changes = []
        for _ in range(120):
            op = rng.choice("IUD")
            key = str(rng.randint(1, rows + 60))  # beyond the full load: inserts of new keys
            row = {"Op": op, "id": key, **next(fresh)} if op != "D" else {"Op": "D", **expected.get(key, {"id": key})}
            changes.append(row)
            if op == "D":
                expected.pop(key, None)
            else:
                expected[key] = {k: v for k, v in row.items() if k != "Op"}
        frame = pa.Table.from_pylist(changes, schema=pa.schema([("Op", pa.string()), *customer.schema]))
        lake.put_raw("customer", name, frame)
    lake.put_findings([finding_for(lake.raw_bucket, first_key, SAMPLE_COLUMNS["customer"])])
    args = lake.args(policy=SAMPLE_POLICY)

    arrow_run = run_job(args, clients=lake.clients())
    arrow_masked = lake.read("masked", "customer", arrow_run.run_id).sort_by("id")
    # a full rebuild: a second run over the same raw files would find nothing to apply
    spark_run = run_job(dataclasses.replace(args, full_rebuild=True), clients=lake.clients(), spark=spark)
    spark_masked = lake.read("masked", "customer", spark_run.run_id).sort_by("id")

    assert spark_masked.equals(arrow_masked)
    assert spark_masked.column("id").to_pylist() == sorted(expected)
    revealed = decrypt_columns(
        lake.read("encrypted", "customer"),
        lake.crypto("encrypted", "customer"),
        list(SAMPLE_COLUMNS["customer"]),
    )
    assert revealed.sort_by("id").to_pylist() == [expected[k] for k in sorted(expected)]
    assert spark_run.tables[0].rows == len(expected)


def test_the_script_runs_the_spark_engine_under_plain_python(lake: Lake) -> None:
    """``python glue_jobs/mask_pii.py --engine spark`` off Glue: its own local session and workers."""
    key = lake.put_raw("people", "LOAD00000001.csv", pa.table({"id": ["1", "2"], "name": ["Ann Lee", "Bo Ek"]}))
    lake.put_findings([finding_for(lake.raw_bucket, key, {"name": "NAME"})])
    env = {**os.environ, "AWS_ENDPOINT_URL": lake.endpoint}
    env.pop("PYSPARK_PYTHON", None)  # the job must find its own interpreter for the workers

    result = subprocess.run(
        [sys.executable, str(SCRIPT), *lake.cli_args(engine="spark")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["engine"] == "spark"
    assert lake.read("masked", "people").sort_by("id").column("name").to_pylist() == ["****", "****"]


def test_spark_fails_closed_and_masks_nested_fields_like_the_arrow_engine(lake: Lake, spark: Any) -> None:
    """No finding for people (nested Parquet): dcp's detector locates the struct member and the
    list elements, both engines mask them in place; a table whose reported type no column can
    be located for is published by neither."""
    import io

    import pyarrow.parquet as pq

    from dcp.masking.findings import Cell, Detection, Finding

    people = pa.table(
        {
            "id": [1, 2, 3],
            "person": [{"name": "Ann Lee", "email": "ann.lee@example.com"}, None, {"name": None, "email": None}],
            "cards": [["4111111111111111"], ["5500005555555559", None], None],
        }
    )
    sink = io.BytesIO()
    pq.write_table(people, sink)
    lake.put_raw("people", "LOAD00000001.parquet", sink.getvalue())
    key = lake.put_raw("accounts", "LOAD00000001.csv", pa.table({"id": ["1", "2"], "acct": ["X-1", "X-2"]}))
    unlisted = Detection("account_number", 9, (), custom=True, cells=(Cell(row=2, column=2, column_name=""),))
    lake.put_findings([Finding(bucket=lake.raw_bucket, key=key, detections=(unlisted,))])

    arrow_run = run_job(lake.args(), clients=lake.clients())
    expected = lake.read("masked", "people", arrow_run.run_id).sort_by("id")
    spark_run = run_job(lake.args(full_rebuild=True), clients=lake.clients(), spark=spark)
    actual = lake.read("masked", "people", spark_run.run_id).sort_by("id")

    for run in (arrow_run, spark_run):
        assert set(run.not_published) == {"accounts"} and "people" in run.located_by_detector
    assert lake.object_keys("masked/accounts/") == []
    assert actual.replace_schema_metadata(None).equals(expected.replace_schema_metadata(None))
    rows = actual.to_pylist()
    assert rows[0]["cards"][0].endswith("1111") and rows[0]["cards"][0] != "4111111111111111"
    assert rows[1]["cards"][1] is None and rows[2]["cards"] is None and rows[1]["person"] is None
    blob = b"".join(lake.objects("masked/").values()) + b"".join(lake.objects("encrypted/").values())
    assert b"ann.lee@example.com" not in blob and b"4111111111111111" not in blob


def test_both_engines_read_typed_dms_parquet_with_cdc_and_keep_every_value(lake: Lake, spark: Any) -> None:
    """DMS's Parquet (the stack's DataFormat): typed columns, Op in the full load and the change
    file; both engines apply I/U/D and keep leading zeros, NULL versus '', Unicode and newlines."""
    import datetime as dt
    import io
    from decimal import Decimal

    import pyarrow.parquet as pq

    from dcp.sandbox.emulators.dms.parquetout import with_op

    schema = pa.schema(
        [
            ("id", pa.int64()),
            ("card_number", pa.string()),
            ("cvv", pa.int16()),
            ("limit_eur", pa.decimal128(12, 2)),
            ("issued", pa.date32()),
            ("note", pa.string()),
        ]
    )
    load = pa.Table.from_pylist(
        [
            {"id": 1, "card_number": "060414234710", "cvv": 93, "limit_eur": Decimal("10.50"),
             "issued": dt.date(2020, 1, 2), "note": 'Zoë "q",\nline'},
            {"id": 2, "card_number": "0000", "cvv": None, "limit_eur": None, "issued": None, "note": ""},
            {"id": 3, "card_number": "4111111111111111", "cvv": 7, "limit_eur": Decimal("-0.01"),
             "issued": dt.date(1999, 12, 31), "note": None},
        ],
        schema=schema,
    )  # fmt: skip
    changes = pa.Table.from_pylist(
        [
            {"id": 2, "card_number": "0001", "cvv": 5, "limit_eur": None, "issued": None, "note": None},
            {"id": 3, "card_number": "4111111111111111", "cvv": 7, "limit_eur": Decimal("-0.01"),
             "issued": dt.date(1999, 12, 31), "note": None},
            {"id": 4, "card_number": "007", "cvv": 1, "limit_eur": Decimal("0.00"), "issued": None, "note": "ü"},
        ],
        schema=schema,
    )  # fmt: skip

    def parquet(table: pa.Table, ops: list[str]) -> bytes:
        sink = io.BytesIO()
        pq.write_table(with_op(table, pa.array(ops)), sink)
        return sink.getvalue()

    key = lake.put_raw("card", "LOAD00000001.parquet", parquet(load, ["I", "I", "I"]))
    lake.put_raw("card", "20240101-120000000.parquet", parquet(changes, ["U", "D", "I"]))
    lake.put_findings([finding_for(lake.raw_bucket, key, {"card_number": "CREDIT_CARD_NUMBER"})])
    policy = SAMPLE_POLICY

    for engine in (None, spark):
        # the second engine rebuilds: an unchanged table is otherwise left as the first run wrote it
        run = run_job(lake.args(policy=policy, full_rebuild=True), clients=lake.clients(), spark=engine)
        assert not run.not_published, run.not_published
        out = lake.read("encrypted", "card")  # the latest run's encrypted copy
        revealed = decrypt_columns(out, lake.crypto("encrypted", "card"), ["card_number"])
        rows = sorted(revealed.to_pylist(), key=lambda r: r["id"])
        assert [r["id"] for r in rows] == [1, 2, 4]
        assert [r["card_number"] for r in rows] == ["060414234710", "0001", "007"]
        assert [r["cvv"] for r in rows] == [93, 5, 1]
        assert [r["note"] for r in rows] == ['Zoë "q",\nline', None, "ü"]
        assert [None if r["limit_eur"] is None else str(r["limit_eur"]) for r in rows] == ["10.50", None, "0.00"]
        assert rows[0]["issued"] == dt.date(2020, 1, 2)
        masked = sorted(lake.read("masked", "card", run.run_id).to_pylist(), key=lambda r: r["id"])
        assert masked[0]["card_number"] != "060414234710" and masked[0]["note"] == 'Zoë "q",\nline'


def test_spark_applies_a_cdc_round_to_the_touched_buckets_like_a_full_rebuild(lake: Lake, spark: Any) -> None:
    """Full run and CDC round on Spark; the buckets are the Arrow engine's (crc32 of the key), and
    the result equals the Arrow engine's full rebuild cell by cell."""
    raw = put_sample_tables(lake, 600, files=2)
    model = Model.of(raw)
    reference = reference_lake(lake)
    args = lake.args(policy=SAMPLE_POLICY, buckets=8)
    run_job(args, clients=lake.clients(), spark=spark)
    for key, body in lake.objects("masked/").items():  # Spark put every key in its Arrow bucket
        keys = pq.read_table(pa.BufferReader(body)).column(0)
        bucket = int(key.rsplit("/", 1)[1].split("-")[1])
        assert set(bucket_of(keys, 8).to_pylist()) <= {bucket}, key
    rng = random.Random(5)
    for table in ("customer", "orders"):
        cdc_round(lake, model, table, 1, rng)

    report = run_job(args, clients=lake.clients(), spark=spark)

    modes = {t.table: t.mode for t in report.tables}
    assert modes == {"bank": "unchanged", "card": "unchanged", "customer": "incremental", "orders": "incremental"}
    assert {t.table: t.raw_files_read for t in report.tables}["customer"] == 2
    run_job(reference.args(policy=SAMPLE_POLICY, buckets=8, full_rebuild=True), clients=reference.clients())
    tables = list(KEY_COLUMN)
    ours, theirs = decrypted(lake, tables), decrypted(reference, tables)
    for name, table in theirs.items():
        assert ours[name].equals(table), f"{name} differs from a full rebuild"
