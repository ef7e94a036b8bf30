"""The mask-PII job with the Arrow engine against S3, KMS, Secrets Manager and Glue on moto."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dcp.gluejob.job import run_job
from dcp.gluejob.rawdata import RawFileError
from dcp.masking.apply import mask_table
from dcp.masking.crypto import TableCrypto
from dcp.masking.findings import Finding
from dcp.masking.plan import MaskingPlan
from dcp.masking.policy import Action
from tests.unit.gluejob.gluejob_lake import (
    SAMPLE_COLUMNS,
    SAMPLE_POLICY,
    TOKEN_KEY,
    Lake,
    assert_no_plaintext,
    decrypt_columns,
    finding_for,
    in_key_order,
    put_sample_tables,
)


@pytest.mark.slow
def test_flagged_tables_get_masked_and_encrypted_output_unflagged_ones_a_masked_copy(lake: Lake) -> None:
    raw = put_sample_tables(lake, 300)

    report = run_job(lake.args(policy=SAMPLE_POLICY), clients=lake.clients())

    assert [t.table for t in report.tables] == ["bank", "card", "customer", "orders"]
    customer = lake.read("masked", "customer")
    assert customer.column_names == raw["customer"].column_names
    assert set(customer.column("name").to_pylist()) == {"****"}
    assert customer.column("birthdate") == raw["customer"].column("birthdate")  # keep
    assert customer.column("username") == raw["customer"].column("username")  # not flagged
    card = lake.read("masked", "card")
    assert "security_code" not in card.column_names  # drop
    assert all(
        m[-4:] == r[-4:] and m != r
        for m, r in zip(card["card_number"].to_pylist(), raw["card"]["card_number"].to_pylist(), strict=True)
    )
    assert lake.read("masked", "orders").equals(in_key_order(raw["orders"]))  # copied unchanged
    assert lake.object_keys("encrypted/orders/") == []  # never an encrypted copy of an unflagged table
    for table in SAMPLE_COLUMNS:
        encrypted = lake.read("encrypted", table)
        flagged = list(SAMPLE_COLUMNS[table])
        assert all(v.startswith("v1:") for c in flagged for v in encrypted.column(c).to_pylist())
        revealed = decrypt_columns(encrypted, lake.crypto("encrypted", table), flagged)
        assert revealed.replace_schema_metadata(None).equals(raw[table])
    assert assert_no_plaintext(lake, raw) > 1000


@pytest.mark.slow
def test_the_job_writes_what_the_local_runner_writes(lake: Lake, tmp_path) -> None:
    raw = put_sample_tables(lake, 400, decoys=())
    run_job(lake.args(policy=SAMPLE_POLICY), clients=lake.clients())
    findings = [finding_for(lake.raw_bucket, lake.raw_key(t, "LOAD00000001.csv"), c) for t, c in SAMPLE_COLUMNS.items()]
    plan = MaskingPlan.from_findings(findings, SAMPLE_POLICY)
    kms = lake.client("kms")
    for table in SAMPLE_COLUMNS:
        source = lake.s3.get_object(Bucket=lake.raw_bucket, Key=lake.raw_key(table, "LOAD00000001.csv"))
        local = tmp_path / table
        local.mkdir()
        mask_table(
            source["Body"].read(),
            plan.tables[table],
            out_masked=local / "masked.parquet",
            out_encrypted=local / "encrypted.parquet",
            kms=kms,
            key_id=lake.key_id,
            token_key=TOKEN_KEY,
            fmt="csv",
        )
        ours, theirs = lake.read("masked", table), pq.read_table(local / "masked.parquet")
        encrypt_action = [c for c, rule in plan.tables[table].columns.items() if rule.action is Action.ENCRYPT]
        assert (
            ours.drop_columns(encrypt_action)
            .replace_schema_metadata(None)
            .equals(theirs.drop_columns(encrypt_action).replace_schema_metadata(None))
        )
        flagged = list(SAMPLE_COLUMNS[table])
        their_crypto = TableCrypto.from_metadata(kms, pq.read_schema(local / "encrypted.parquet").metadata)
        ours_plain = decrypt_columns(lake.read("encrypted", table), lake.crypto("encrypted", table), flagged)
        theirs_plain = decrypt_columns(pq.read_table(local / "encrypted.parquet"), their_crypto, flagged)
        assert ours_plain.replace_schema_metadata(None).equals(theirs_plain.replace_schema_metadata(None))
        assert ours_plain.replace_schema_metadata(None).equals(raw[table])


def test_change_files_are_applied_by_primary_key_in_file_name_order(lake: Lake) -> None:
    load = pa.table({"id": ["1", "2", "3"], "name": ["Ann Lee", "Bob Roe", "Cy Moe"], "city": ["a", "b", "c"]})
    key = lake.put_raw("people", "LOAD00000001.csv", load)
    lake.put_raw(
        "people",
        "20240102-000000001.csv",
        pa.table({"Op": ["D", "I"], "id": ["3", "3"], "name": ["Cy Moe", "Cy New"], "city": ["c", "n"]}),
    )
    lake.put_raw(
        "people",
        "20240101-000000001.csv",
        pa.table(
            {
                "Op": ["U", "D", "I"],
                "id": ["1", "2", "4"],
                "name": ["Ann Ray", "Bob Roe", "Di Doe"],
                "city": ["a2", "b", "d"],
            }
        ),
    )
    lake.put_findings([finding_for(lake.raw_bucket, key, {"name": "NAME"})])

    report = run_job(lake.args(), clients=lake.clients())

    masked = lake.read("masked", "people").sort_by("id")
    assert masked.to_pylist() == [
        {"id": "1", "name": "****", "city": "a2"},
        {"id": "3", "name": "****", "city": "n"},
        {"id": "4", "name": "****", "city": "d"},
    ]
    encrypted = lake.read("encrypted", "people").sort_by("id")
    revealed = decrypt_columns(encrypted, lake.crypto("encrypted", "people"), ["name"])
    assert revealed.column("name").to_pylist() == ["Ann Ray", "Cy New", "Di Doe"]
    assert report.tables[0].rows == 3


def test_a_full_rebuild_replaces_the_previous_output_and_a_run_without_changes_writes_nothing(lake: Lake) -> None:
    put_sample_tables(lake, 50, decoys=("orders",))
    first = run_job(lake.args(policy=SAMPLE_POLICY, buckets=4), clients=lake.clients())
    before = lake.object_keys()
    clients = lake.clients()
    kms_calls: list[str] = []
    clients.kms.meta.events.register("before-call.kms.*", lambda model, **_: kms_calls.append(model.name))
    unchanged = run_job(lake.args(policy=SAMPLE_POLICY, buckets=4), clients=clients)
    assert lake.object_keys() == before
    assert kms_calls == []  # nothing to encrypt: no data key made or unwrapped
    assert {t.mode for t in unchanged.tables} == {"unchanged"}
    assert sum(t.raw_bytes_read + t.output_bytes_written for t in unchanged.tables) == 0
    second = run_job(lake.args(policy=SAMPLE_POLICY, buckets=4, full_rebuild=True), clients=lake.clients())
    after = lake.object_keys()

    assert len(after) == len(before) == 28  # 4 buckets of 4 masked + 3 encrypted tables
    assert all(second.run_id in key for key in after) and all(first.run_id in key for key in before)
    assert sum(t.deleted_objects for t in second.tables) == 28
    assert {t.mode for t in second.tables} == {"full"}


def test_an_empty_table_still_gets_a_schema_only_part(lake: Lake) -> None:
    key = lake.put_raw("empty", "LOAD00000001.csv", b"id,name\n")
    lake.put_findings([finding_for(lake.raw_bucket, key, {"name": "NAME"})])
    run_job(lake.args(), clients=lake.clients())
    assert lake.read("masked", "empty").num_rows == 0
    assert lake.read("encrypted", "empty").column_names == ["id", "name"]


def test_the_token_key_comes_from_secrets_manager(lake: Lake) -> None:
    raw = put_sample_tables(lake, 30, decoys=())
    lake.client("secretsmanager").create_secret(Name="dcp/token-key", SecretString=TOKEN_KEY.hex())
    run_job(
        lake.args(policy=SAMPLE_POLICY, token_key=None, token_secret_id="dcp/token-key"),
        clients=lake.clients(),
    )
    from_secret = lake.read("masked", "customer").column("mail")
    run_job(lake.args(policy=SAMPLE_POLICY), clients=lake.clients())
    assert from_secret == lake.read("masked", "customer").column("mail")
    assert not set(from_secret.to_pylist()) & set(raw["customer"].column("mail").to_pylist())


def test_one_data_key_per_flagged_table_recorded_in_parquet_and_glue(lake: Lake) -> None:
    put_sample_tables(lake, 40)
    glue = lake.client("glue")
    glue.create_database(DatabaseInput={"Name": "lake_encrypted"})
    glue.create_table(
        DatabaseName="lake_encrypted",
        TableInput={
            "Name": "customer",
            "Parameters": {"classification": "parquet"},
            "StorageDescriptor": {
                "Columns": [{"Name": "id", "Type": "string"}],
                "Location": f"s3://{lake.curated_bucket}/encrypted/customer/",
            },
        },
    )
    clients = lake.clients()
    calls: list[str] = []
    clients.kms.meta.events.register("before-call.kms.GenerateDataKey", lambda **kw: calls.append("GenerateDataKey"))

    report = run_job(
        lake.args(policy=SAMPLE_POLICY, encrypted_database="lake_encrypted", masked_database="lake_masked"),
        clients=clients,
    )

    assert calls == ["GenerateDataKey"] * 3  # customer, bank, card; none for the unflagged orders
    parameters = glue.get_table(DatabaseName="lake_encrypted", Name="customer")["Table"]["Parameters"]
    footer = lake.metadata("encrypted", "customer")
    assert parameters["dcp:wrapped_key"] == footer[b"dcp:wrapped_key"].decode()
    assert parameters["classification"] == "parquet"  # the crawler's parameters stay
    assert parameters["dcp:run_id"] == report.run_id
    assert next(t for t in report.tables if t.table == "customer").catalog_updated == ["lake_encrypted.customer"]
    crypto = TableCrypto.from_metadata(lake.client("kms"), parameters)
    assert crypto.decrypt_array(lake.read("encrypted", "customer").column("name"), "name").null_count == 0


def test_findings_about_other_buckets_are_ignored(lake: Lake) -> None:
    key = lake.put_raw("people", "LOAD00000001.csv", pa.table({"id": ["1"], "code": ["A-1"]}))
    elsewhere = Finding(bucket="another-bucket", key=key, detections=finding_for("b", key, {"code": "NAME"}).detections)
    lake.put_findings([elsewhere])

    report = run_job(lake.args(), clients=lake.clients())

    assert report.findings == 0 and report.findings_objects == 1
    assert lake.read("masked", "people").column("code").to_pylist() == ["A-1"]
    assert lake.object_keys("encrypted/") == []


@pytest.mark.parametrize("tables", [("customer",), ("customer", "nosuch")])
def test_tables_limits_the_run_and_unknown_names_are_reported(lake: Lake, tables: tuple[str, ...]) -> None:
    put_sample_tables(lake, 20)
    report = run_job(lake.args(policy=SAMPLE_POLICY, tables=tables), clients=lake.clients())
    assert [t.table for t in report.tables] == ["customer"]
    assert {k.split("/")[1] for k in lake.object_keys()} == {"customer"}
    assert any("'nosuch'" in w for w in report.warnings) == ("nosuch" in tables)


def test_a_broken_raw_file_fails_the_table_without_quoting_it_and_keeps_the_old_output(lake: Lake) -> None:
    key = lake.put_raw("people", "LOAD00000001.csv", pa.table({"id": ["1"], "name": ["Ann Lee"]}))
    lake.put_findings([finding_for(lake.raw_bucket, key, {"name": "NAME"})])
    run_job(lake.args(), clients=lake.clients())
    before = lake.object_keys()
    lake.put_raw("people", "20240101-000000001.csv", b"Op,id,name\nU,1,Zoe Secret-Person,extra\n")

    with pytest.raises(RawFileError) as failure:
        run_job(lake.args(), clients=lake.clients())

    assert "Secret-Person" not in str(failure.value)
    assert "dataset/people/20240101-000000001.csv is not valid csv" in str(failure.value)
    assert lake.object_keys() == before
