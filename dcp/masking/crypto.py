"""Envelope encryption of cells: one KMS data key per table, AES per cell.

``TableCrypto.create`` asks KMS for exactly one data key (GenerateDataKey) per table and run;
every cell is then encrypted locally:

* AES-256-GCM with a random 96-bit nonce (the default), or
* AES-SIV (deterministic, so equal plaintexts give equal ciphertexts and the column can be
  joined on) for columns the plan marks joinable. Its 512-bit key is derived from the data
  key with HKDF-SHA256.

The associated data of every cell names its table and column, so a ciphertext moved to
another column or table fails to decrypt. KMS sees the table in the encryption context
(``{"dcp:table": table}``), so the wrapped key can only be unwrapped for that table.

An encrypted cell is the string ``v1:G`` + base64(nonce) + base64(ciphertext+tag) for GCM,
``v1:S`` + base64(ciphertext+tag) for SIV; the plaintext inside is framed with a pad count
(see :func:`_frame`) so ciphertexts base64-encode without padding.
The wrapped key, algorithm and context travel in Parquet schema metadata and Glue table
parameters (:meth:`TableCrypto.metadata`); :meth:`TableCrypto.from_metadata` unwraps it with
one kms:Decrypt. A caller KMS refuses gets :class:`KmsAccessDenied` and no data.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CELL_PREFIX = "v1:"
ALGORITHM = "AES_256_GCM/AES_SIV_512"
_GCM_TAG = "G"
_SIV_TAG = "S"
_NONCE_BYTES = 12

META_WRAPPED_KEY = b"dcp:wrapped_key"
META_ALGORITHM = b"dcp:algorithm"
META_CONTEXT = b"dcp:encryption_context"
META_KEY_ID = b"dcp:kms_key_id"
META_TABLE = b"dcp:table"


class KmsLike(Protocol):
    """The two boto3 KMS client methods dcp uses; a boto3 KMS client satisfies it."""

    def generate_data_key(self, *, KeyId: Any, KeySpec: Any = ..., EncryptionContext: Any = ...) -> Any: ...

    def decrypt(self, *, CiphertextBlob: Any, EncryptionContext: Any = ...) -> Any: ...


class KmsAccessDenied(PermissionError):
    """KMS refused the call: the caller lacks kms:GenerateDataKey or kms:Decrypt on the key."""


class CellDecryptionError(ValueError):
    """A cell is not a dcp ciphertext, or was not encrypted for this table, column and key."""


def _error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError, read duck-typed (no botocore import)."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping):
            code = error.get("Code")
            return str(code) if code is not None else None
    return None


_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})


def _call_kms(operation: str, key: str, table: str, call: Any, **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except Exception as exc:
        if _error_code(exc) in _DENIED_CODES:
            raise KmsAccessDenied(
                f"KMS denied kms:{operation} on key {key} for table {table!r}: this identity may not "
                f"use the key. Ask the key owner to grant kms:{operation} (for reveal, use the "
                "ML-training role), or pick a role that has it."
            ) from None
        raise


@dataclass(frozen=True)
class TableCrypto:
    """The unwrapped data key of one table, and cell encryption with it."""

    table: str
    key_id: str
    wrapped_key: bytes
    _gcm: AESGCM = field(repr=False, compare=False)
    _siv: AESSIV = field(repr=False, compare=False)
    _data_key: bytes = field(repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # picklable so an engine (Spark mapInArrow) can ship the table's unwrapped key to its
        # workers once instead of having every task call KMS
        return (TableCrypto._from_plaintext, (self.table, self.key_id, self.wrapped_key, self._data_key))

    @classmethod
    def _from_plaintext(cls, table: str, key_id: str, wrapped: bytes, plaintext: bytes) -> TableCrypto:
        if len(plaintext) != 32:
            raise ValueError(f"KMS returned a {len(plaintext) * 8}-bit data key; dcp needs AES_256")
        siv_key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=b"dcp/aes-siv/" + table.encode()).derive(
            plaintext
        )
        return cls(
            table=table,
            key_id=key_id,
            wrapped_key=wrapped,
            _gcm=AESGCM(plaintext),
            _siv=AESSIV(siv_key),
            _data_key=bytes(plaintext),
        )

    @classmethod
    def create(cls, kms: KmsLike, key_id: str, table: str) -> TableCrypto:
        """Ask KMS for this table's data key: exactly one GenerateDataKey call."""
        response = _call_kms(
            "GenerateDataKey",
            key_id,
            table,
            kms.generate_data_key,
            KeyId=key_id,
            KeySpec="AES_256",
            EncryptionContext=encryption_context(table),
        )
        return cls._from_plaintext(
            table,
            str(response.get("KeyId") or key_id),
            bytes(response["CiphertextBlob"]),
            response["Plaintext"],
        )

    @classmethod
    def from_metadata(cls, kms: KmsLike, metadata: Mapping[bytes, bytes] | Mapping[str, str]) -> TableCrypto:
        """Unwrap the data key stored by :meth:`metadata`: exactly one kms:Decrypt call."""
        meta = {(k.encode() if isinstance(k, str) else k): v for k, v in metadata.items()}

        def value(name: bytes) -> str:
            raw = meta.get(name)
            if raw is None:
                raise CellDecryptionError(
                    f"no {name.decode()} in the table metadata: this table was not encrypted by dcp"
                )
            return raw.decode() if isinstance(raw, bytes) else str(raw)

        table = value(META_TABLE)
        key_id = value(META_KEY_ID)
        wrapped = base64.b64decode(value(META_WRAPPED_KEY))
        context = json.loads(value(META_CONTEXT))
        response = _call_kms("Decrypt", key_id, table, kms.decrypt, CiphertextBlob=wrapped, EncryptionContext=context)
        return cls._from_plaintext(table, key_id, wrapped, response["Plaintext"])

    def metadata(self) -> dict[bytes, bytes]:
        """What a reader needs to unwrap the key: for Parquet schema metadata / Glue parameters."""
        return {
            META_WRAPPED_KEY: base64.b64encode(self.wrapped_key),
            META_ALGORITHM: ALGORITHM.encode(),
            META_CONTEXT: json.dumps(encryption_context(self.table), sort_keys=True).encode(),
            META_KEY_ID: self.key_id.encode(),
            META_TABLE: self.table.encode(),
        }

    # --- cells ------------------------------------------------------------------------------
    def associated_data(self, column: str) -> bytes:
        return json.dumps({"dcp:column": column, "dcp:table": self.table}, sort_keys=True).encode()

    def encrypt_array(self, values: pa.Array | pa.ChunkedArray, column: str, *, joinable: bool = False) -> pa.Array:
        """Encrypt every non-null cell of ``values`` (cast to string first); nulls stay null.

        The per-cell Python work is the AEAD call alone. Each plaintext is framed (see
        :func:`_frame`) so that its ciphertext is a multiple of 3 bytes long: the ciphertexts of a
        whole column then base64-encode in one call and are cut at computed offsets, and the
        12-byte nonces (one os.urandom call for the batch) likewise.
        """
        data = _as_binary(values)
        valid = data.drop_null() if data.null_count else data
        count = len(valid)
        framed = _frame(valid)
        plain = framed.to_pylist()
        aad = self.associated_data(column)
        if joinable:
            siv = self._siv.encrypt
            ciphertexts = list(map(siv, plain, repeat([aad])))
            heads = pa.repeat(pa.scalar(CELL_PREFIX + _SIV_TAG), count)
        else:
            randomness = os.urandom(_NONCE_BYTES * count)
            nonces = [randomness[i : i + _NONCE_BYTES] for i in range(0, len(randomness), _NONCE_BYTES)]
            ciphertexts = list(map(self._gcm.encrypt, nonces, plain, repeat(aad)))
            nonce_text = _cut(base64.b64encode(randomness), pa.repeat(pa.scalar(16, pa.int64()), count))
            heads = pc.binary_join_element_wise(CELL_PREFIX + _GCM_TAG, nonce_text, "")
        lengths = pc.multiply(pc.divide(pc.add(pc.binary_length(framed).cast(pa.int64()), 16), 3), 4)
        bodies = _cut(base64.b64encode(b"".join(ciphertexts)), lengths)
        cells = pc.binary_join_element_wise(heads, bodies, "")
        if count == len(data):
            return cells
        return pc.replace_with_mask(pa.nulls(len(data), pa.string()), pc.is_valid(data), cells)

    def decrypt_array(self, values: pa.Array | pa.ChunkedArray, column: str) -> pa.Array:
        """The plaintext strings of cells made by :meth:`encrypt_array` for this column."""
        data = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        aad = self.associated_data(column)
        out = [None if cell is None else self._decrypt_cell(cell, aad, column) for cell in data.to_pylist()]
        return pa.array(out, pa.string())

    def _decrypt_cell(self, cell: str, aad: bytes, column: str) -> str:
        if not isinstance(cell, str) or not cell.startswith(CELL_PREFIX):
            raise CellDecryptionError(f"column {column!r}: a cell is not a dcp ciphertext (no {CELL_PREFIX})")
        tag, body = cell[len(CELL_PREFIX) : len(CELL_PREFIX) + 1], cell[len(CELL_PREFIX) + 1 :]
        try:
            if tag == _GCM_TAG:
                nonce = base64.b64decode(body[:16], validate=True)
                framed = self._gcm.decrypt(nonce, base64.b64decode(body[16:], validate=True), aad)
            elif tag == _SIV_TAG:
                framed = self._siv.decrypt(base64.b64decode(body, validate=True), [aad])
            else:
                raise CellDecryptionError(f"column {column!r}: unknown cell algorithm tag {tag!r}")
        except (InvalidTag, binascii.Error, ValueError) as exc:
            if isinstance(exc, CellDecryptionError):
                raise
            raise CellDecryptionError(
                f"column {column!r}: a cell does not decrypt with table {self.table!r}'s key "
                "(wrong table/column, or tampered)"
            ) from exc
        pad = framed[0]
        return framed[1 : len(framed) - pad].decode("utf-8")


def _frame(plain: pa.Array) -> pa.Array:
    """[pad count] + plaintext + pad zero bytes, padded so that framed length + 16 (the tag) % 3 == 0.

    The pad count is inside the ciphertext, so it is authenticated with the value.
    """
    lengths = pc.binary_length(plain).cast(pa.int64())
    total = pc.add(lengths, 1 + 16)
    pad = pc.subtract(2, pc.subtract(pc.add(total, 2), pc.multiply(pc.divide(pc.add(total, 2), 3), 3)))
    heads = pc.take(pa.array([b"\x00", b"\x01", b"\x02"], pa.binary()), pad)
    tails = pc.take(pa.array([b"", b"\x00", b"\x00\x00"], pa.binary()), pad)
    return pc.binary_join_element_wise(heads, plain, tails, b"")


def _cut(text: bytes, lengths: pa.Array) -> pa.Array:
    """Split ``text`` into consecutive ASCII strings of the given lengths, without a Python loop."""
    offsets = pa.concat_arrays([pa.array([0], pa.int64()), pc.cumulative_sum(lengths).cast(pa.int64())])
    return pa.LargeStringArray.from_buffers(len(lengths), offsets.buffers()[1], pa.py_buffer(text)).cast(pa.string())


def encryption_context(table: str) -> dict[str, str]:
    """The KMS encryption context of a table's data key."""
    return {"dcp:table": table}


def _as_binary(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    data = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if not (pa.types.is_string(data.type) or pa.types.is_large_string(data.type)):
        data = pc.cast(data, pa.string())
    return data.cast(pa.binary())
