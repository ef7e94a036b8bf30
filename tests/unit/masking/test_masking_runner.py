"""The batch function and the streaming runner: both copies, one data key, reveal for KMS holders."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dcp.masking.apply import mask_batch, mask_table, output_schemas, reveal_table
from dcp.masking.crypto import KmsAccessDenied, TableCrypto
from dcp.masking.plan import ColumnRule, TablePlan
from dcp.masking.policy import Action
from dcp.masking.sample_data import generate_table

TOKEN_KEY = b"token-secret"


def card_plan() -> TablePlan:
    return TablePlan(
        name="card",
        columns={
            "card_number": ColumnRule(frozenset({"CREDIT_CARD_NUMBER"}), Action.PARTIAL),
            "expiration": ColumnRule(frozenset({"CREDIT_CARD_EXPIRATION"}), Action.REDACT),
            "security_code": ColumnRule(frozenset({"CREDIT_CARD_SECURITY_CODE"}), Action.DROP),
            "provider": ColumnRule(frozenset({"x"}), Action.TOKEN),
        },
    )


def test_mask_batch_output_convention(kms, kms_key) -> None:
    table = generate_table("card", 100, seed=3)
    crypto = TableCrypto.create(kms, kms_key, "card")
    result = mask_batch(table.to_batches()[0], card_plan(), crypto, TOKEN_KEY)
    assert result.masked.schema.names == ["id", "provider", "card_number", "expiration"]
    assert result.encrypted.schema.names == table.schema.names
    assert result.masked.column("id").equals(table.column("id").combine_chunks())
    assert result.encrypted.column("id").equals(table.column("id").combine_chunks())
    originals = table.column("card_number").to_pylist()
    masked = result.masked.column("card_number").to_pylist()
    assert all(m.endswith(o[-4:]) and m != o and len(m) == len(o) for m, o in zip(masked, originals, strict=True))
    assert set(result.masked.column("expiration").to_pylist()) == {"****"}
    for name in ("provider", "card_number", "expiration", "security_code"):
        cells = result.encrypted.column(name)
        assert all(c.startswith("v1:") for c in cells.to_pylist())
        assert crypto.decrypt_array(cells, name).to_pylist() == table.column(name).to_pylist()


def test_mask_batch_is_deterministic_except_gcm(kms, kms_key) -> None:
    batch = generate_table("bank", 50, seed=1).to_batches()[0]
    plan = TablePlan(
        name="bank",
        columns={
            "iban": ColumnRule(frozenset({"INTERNATIONAL_BANK_ACCOUNT_NUMBER"}), Action.TOKEN),
            "account_number": ColumnRule(frozenset({"account_number"}), Action.ENCRYPT, joinable=True),
            "bban": ColumnRule(frozenset({"UK_BANK_ACCOUNT_NUMBER"}), Action.ENCRYPT),
        },
    )
    crypto = TableCrypto.create(kms, kms_key, "bank")
    first = mask_batch(batch, plan, crypto, TOKEN_KEY)
    second = mask_batch(batch, plan, crypto, TOKEN_KEY)
    assert first.masked.column("iban").equals(second.masked.column("iban"))
    assert first.masked.column("account_number").equals(second.masked.column("account_number"))  # SIV
    assert not first.masked.column("bban").equals(second.masked.column("bban"))  # GCM nonces


def test_mask_batch_needs_crypto_and_token_key() -> None:
    batch = generate_table("card", 5).to_batches()[0]
    with pytest.raises(ValueError, match="TableCrypto"):
        mask_batch(batch, card_plan(), None, TOKEN_KEY)
    unflagged = mask_batch(batch, TablePlan(columns={}), None, None)
    assert unflagged.masked.equals(batch) and unflagged.encrypted.equals(batch)


def test_output_schemas_turn_flagged_columns_into_strings() -> None:
    schema = pa.schema([("id", pa.int64()), ("birthdate", pa.date32()), ("keep_me", pa.date32())])
    plan = TablePlan(
        columns={
            "birthdate": ColumnRule(frozenset({"DATE_OF_BIRTH"}), Action.PARTIAL),
            "keep_me": ColumnRule(frozenset({"DATE_OF_BIRTH"}), Action.KEEP),
        }
    )
    masked, encrypted = output_schemas(schema, plan)
    assert masked.field("birthdate").type == pa.string() and masked.field("keep_me").type == pa.date32()
    assert encrypted.field("keep_me").type == pa.string()


def test_mask_table_streams_with_one_data_key_and_reveals(tmp_path: Path, kms, kms_key) -> None:
    table = generate_table("card", 5000, seed=9)
    source = tmp_path / "card.parquet"
    pq.write_table(table, source)
    result = mask_table(
        source,
        card_plan(),
        out_masked=tmp_path / "masked.parquet",
        out_encrypted=tmp_path / "encrypted.parquet",
        kms=kms,
        key_id=kms_key,
        token_key=TOKEN_KEY,
        batch_size=1000,
    )
    assert result.rows == 5000 and result.batches == 5
    assert kms.calls == {"GenerateDataKey": 1}
    masked = pq.read_table(tmp_path / "masked.parquet")
    assert masked.num_rows == 5000 and "security_code" not in masked.column_names
    assert pq.ParquetFile(tmp_path / "encrypted.parquet").metadata.num_row_groups >= 1
    revealed = reveal_table(tmp_path / "encrypted.parquet", kms)
    assert kms.calls == {"GenerateDataKey": 1, "Decrypt": 1}
    assert revealed.column("card_number").to_pylist() == table.column("card_number").to_pylist()
    assert revealed.column("id").to_pylist() == table.column("id").to_pylist()
    few = reveal_table(tmp_path / "encrypted.parquet", kms, columns=["security_code"], limit=3)
    assert few.column_names == ["security_code"]
    assert few.column("security_code").to_pylist() == table.column("security_code").to_pylist()[:3]


def test_mask_table_one_data_key_per_table(tmp_path: Path, kms, kms_key) -> None:
    for name in ("card", "bank"):
        table = generate_table(name, 300, seed=2)
        plan = TablePlan(
            name=name,
            columns={table.column_names[1]: ColumnRule(frozenset({"t"}), Action.REDACT)},
        )
        mask_table(
            table,
            plan,
            out_masked=tmp_path / f"{name}-m.parquet",
            out_encrypted=tmp_path / f"{name}-e.parquet",
            kms=kms,
            key_id=kms_key,
            token_key=None,
            batch_size=100,
        )
    assert kms.calls["GenerateDataKey"] == 2


def test_reveal_denied_gives_no_data(tmp_path: Path, kms, denied_kms, kms_key) -> None:
    table = generate_table("card", 10)
    mask_table(
        table,
        card_plan(),
        out_masked=tmp_path / "m.parquet",
        out_encrypted=tmp_path / "e.parquet",
        kms=kms,
        key_id=kms_key,
        token_key=TOKEN_KEY,
    )
    with pytest.raises(KmsAccessDenied):
        reveal_table(tmp_path / "e.parquet", denied_kms)


def test_mask_table_from_csv_keeps_text_exactly(tmp_path: Path, kms, kms_key) -> None:
    source = tmp_path / "bank.csv"
    source.write_text("id,account_number,bban\n1,XYZ-0001,00012345678901234567\n2,XYZ-0002,\n")
    plan = TablePlan(name="bank", columns={"bban": ColumnRule(frozenset({"b"}), Action.PARTIAL)})
    mask_table(
        source,
        plan,
        out_masked=tmp_path / "m.parquet",
        out_encrypted=tmp_path / "e.parquet",
        kms=kms,
        key_id=kms_key,
        token_key=None,
    )
    masked = pq.read_table(tmp_path / "m.parquet")
    assert masked.column("account_number").to_pylist() == ["XYZ-0001", "XYZ-0002"]
    assert masked.column("bban").to_pylist() == ["****************4567", ""]
    revealed = reveal_table(tmp_path / "e.parquet", kms)
    assert revealed.column("bban").to_pylist() == ["00012345678901234567", ""]
