"""The job's key material: each table's data key (one GenerateDataKey) and the token key.

``TableCrypto`` holds cipher objects that cannot be pickled, so the Spark engine ships a
:class:`TableKey` instead (in a broadcast variable) and every executor rebuilds the same
``TableCrypto`` from it with :meth:`TableKey.crypto`, through the public
``TableCrypto.from_metadata`` and a local stand-in for KMS that knows only this one key. No
KMS call is made on executors, and the plaintext key never appears in a repr, log or error.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dcp.masking.crypto import META_WRAPPED_KEY, TableCrypto


@dataclass(frozen=True)
class TableKey:
    """A table's data key: its Parquet/Glue metadata (with the wrapped key) and the plaintext."""

    metadata: dict[bytes, bytes]
    plaintext: bytes = field(repr=False)

    def crypto(self) -> TableCrypto:
        return TableCrypto.from_metadata(_KnownKey(self), self.metadata)

    def __repr__(self) -> str:
        return f"TableKey(table={self.metadata.get(b'dcp:table', b'?').decode()!r})"


@dataclass(frozen=True)
class _KnownKey:
    """Answers kms:Decrypt for the one wrapped key it was made from; KmsLike for from_metadata."""

    key: TableKey

    def generate_data_key(self, *, KeyId: Any, KeySpec: Any = None, EncryptionContext: Any = None) -> Any:
        raise RuntimeError("a TableKey cannot generate data keys")

    def decrypt(self, *, CiphertextBlob: Any, EncryptionContext: Any = None) -> Any:
        wrapped = base64.b64decode(self.key.metadata[META_WRAPPED_KEY])
        if bytes(CiphertextBlob) != wrapped:
            raise ValueError("this TableKey can only unwrap its own data key")
        return {"Plaintext": self.key.plaintext}


@dataclass
class _CapturingKms:
    """Passes GenerateDataKey to KMS and keeps the one plaintext key it returns."""

    kms: Any
    plaintext: bytes | None = field(default=None, repr=False)

    def generate_data_key(self, **kwargs: Any) -> Any:
        response = self.kms.generate_data_key(**kwargs)
        self.plaintext = bytes(response["Plaintext"])
        return response

    def decrypt(self, **kwargs: Any) -> Any:
        response = self.kms.decrypt(**kwargs)
        self.plaintext = bytes(response["Plaintext"])
        return response


def reuse_table_key(kms: Any, metadata: Mapping[bytes, bytes] | Mapping[str, str]) -> TableKey:
    """The table's existing data key, unwrapped from its recorded metadata (one kms:Decrypt).

    An incremental run keeps the key the table's untouched parts are encrypted with, so the
    table still has one data key; the caller rebuilds the table with a new key when KMS refuses.
    """
    capture = _CapturingKms(kms)
    crypto = TableCrypto.from_metadata(capture, metadata)
    if capture.plaintext is None:  # pragma: no cover - from_metadata always asks KMS once
        raise RuntimeError("TableCrypto.from_metadata did not call Decrypt")
    return TableKey(metadata=crypto.metadata(), plaintext=capture.plaintext)


def create_table_key(kms: Any, key_id: str, table: str) -> tuple[TableCrypto, TableKey]:
    """One GenerateDataKey for ``table`` (through ``TableCrypto.create``) and its shippable form."""
    capture = _CapturingKms(kms)
    crypto = TableCrypto.create(capture, key_id, table)
    if capture.plaintext is None:  # pragma: no cover - TableCrypto.create always asks KMS once
        raise RuntimeError("TableCrypto.create did not call GenerateDataKey")
    return crypto, TableKey(metadata=crypto.metadata(), plaintext=capture.plaintext)


class TokenKeyError(ValueError):
    """The token secret holds nothing usable as a key (the message never quotes it)."""


def token_key_from_secret(secrets: Any, secret_id: str) -> bytes:
    """The token key stored in Secrets Manager.

    Accepted forms: SecretBinary (the raw key); SecretString holding the key as hex or base64;
    or a JSON object whose ``token_key`` (or ``key``) field holds it as hex or base64.
    """
    response = secrets.get_secret_value(SecretId=secret_id)
    if response.get("SecretBinary") is not None:
        key = bytes(response["SecretBinary"])
    else:
        text = str(response.get("SecretString") or "").strip()
        if text.startswith("{"):
            try:
                document = json.loads(text)
            except json.JSONDecodeError:
                raise TokenKeyError(f"secret {secret_id} is not valid JSON") from None
            text = str(document.get("token_key") or document.get("key") or "").strip()
        key = _decode_key(text)
    if len(key) < 16:
        raise TokenKeyError(f"secret {secret_id} holds a key shorter than 16 bytes; store 32 random bytes")
    return key


def _decode_key(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise TokenKeyError("the token secret is neither hex nor base64") from None
