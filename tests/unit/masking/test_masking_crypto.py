"""Envelope encryption: one data key per table, AES per cell, reveal needs kms:Decrypt."""

from __future__ import annotations

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcp.masking.crypto import CellDecryptionError, KmsAccessDenied, TableCrypto

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))


def test_create_makes_exactly_one_generate_data_key(kms, kms_key) -> None:
    crypto = TableCrypto.create(kms, kms_key, "card")
    for _ in range(5):
        crypto.encrypt_array(pa.array(["4111111111111111"] * 1000), "card_number")
    assert kms.calls == {"GenerateDataKey": 1}


def test_metadata_round_trip_with_one_decrypt(kms, kms_key) -> None:
    crypto = TableCrypto.create(kms, kms_key, "card")
    cells = crypto.encrypt_array(pa.array(["4111111111111111", None, ""]), "card_number")
    assert cells[0].as_py().startswith("v1:") and cells[1].as_py() is None
    metadata = crypto.metadata()
    assert metadata[b"dcp:table"] == b"card" and b"dcp:wrapped_key" in metadata
    assert b"Plaintext" not in b"".join(metadata.values())
    reopened = TableCrypto.from_metadata(kms, metadata)
    assert kms.calls == {"GenerateDataKey": 1, "Decrypt": 1}
    assert reopened.decrypt_array(cells, "card_number").to_pylist() == ["4111111111111111", None, ""]


def test_gcm_is_randomised_siv_is_deterministic(kms, kms_key) -> None:
    crypto = TableCrypto.create(kms, kms_key, "bank")
    values = pa.array(["XYZ-1", "XYZ-1"])
    gcm = crypto.encrypt_array(values, "account_number").to_pylist()
    siv = crypto.encrypt_array(values, "account_number", joinable=True).to_pylist()
    assert gcm[0] != gcm[1]
    assert siv[0] == siv[1]
    assert crypto.decrypt_array(pa.array(gcm + siv), "account_number").to_pylist() == ["XYZ-1"] * 4


def test_cells_are_bound_to_table_and_column(kms, kms_key) -> None:
    crypto = TableCrypto.create(kms, kms_key, "card")
    cells = crypto.encrypt_array(pa.array(["secret"]), "card_number")
    with pytest.raises(CellDecryptionError, match="security_code"):
        crypto.decrypt_array(cells, "security_code")
    with pytest.raises(CellDecryptionError):
        crypto.decrypt_array(pa.array(["not encrypted"]), "card_number")
    tampered = cells[0].as_py()[:-2] + ("A" if cells[0].as_py()[-2] != "A" else "B") + cells[0].as_py()[-1]
    with pytest.raises(CellDecryptionError):
        crypto.decrypt_array(pa.array([tampered]), "card_number")


def test_reveal_without_kms_decrypt_is_denied(kms, denied_kms, kms_key) -> None:
    metadata = TableCrypto.create(kms, kms_key, "card").metadata()
    with pytest.raises(KmsAccessDenied, match="kms:Decrypt") as error:
        TableCrypto.from_metadata(denied_kms, metadata)
    assert "AccessDeniedException" not in str(error.value)  # a sentence for people, no raw error


def test_other_kms_errors_pass_through(kms, kms_client) -> None:
    with pytest.raises(ClientError) as error:
        TableCrypto.create(kms, "arn:aws:kms:us-east-1:123456789012:key/does-not-exist", "card")
    assert error.value.response["Error"]["Code"] == "NotFoundException"


@given(values=st.lists(st.one_of(st.none(), TEXT), max_size=40), joinable=st.booleans())
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_decrypt_inverts_encrypt(kms, kms_key, values: list[str | None], joinable: bool) -> None:
    crypto = _cached_crypto(kms, kms_key)
    array = pa.array(values, pa.string())
    cells = crypto.encrypt_array(array, "c", joinable=joinable)
    assert all(c is None or c != v for c, v in zip(cells.to_pylist(), values, strict=True))
    assert crypto.decrypt_array(cells, "c").to_pylist() == values


_CACHE: dict[str, TableCrypto] = {}


def _cached_crypto(kms, key_id: str) -> TableCrypto:
    if key_id not in _CACHE:
        _CACHE[key_id] = TableCrypto.create(kms, key_id, "prop")
    return _CACHE[key_id]


def test_table_crypto_pickles_for_spark_workers(kms, kms_key) -> None:
    import pickle

    crypto = TableCrypto.create(kms, kms_key, "card")
    shipped = pickle.loads(pickle.dumps(crypto))
    cells = shipped.encrypt_array(pa.array(["4111111111111111"]), "card_number")
    assert crypto.decrypt_array(cells, "card_number").to_pylist() == ["4111111111111111"]
    assert shipped.metadata() == crypto.metadata()
    assert kms.calls == {"GenerateDataKey": 1}
