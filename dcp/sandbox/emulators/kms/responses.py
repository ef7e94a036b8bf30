"""KMS operations guarded by the key policy; moto performs them once the caller may."""

from __future__ import annotations

from typing import Any

from dcp.sandbox.dispatch import FORWARD, Call, emulates
from dcp.sandbox.emulators.kms.models import authorize, find_key, key_id_of_ciphertext


def _guard(call: Call, key_id: str | None, operation: str, context: Any) -> None:
    if not key_id:
        return  # moto reports the missing/invalid key itself
    key = find_key(call.account_id, call.region, key_id)
    if key is not None:
        authorize(call.principal, key, operation, context)


@emulates("kms", "Encrypt")
def encrypt(call: Call) -> dict[str, Any]:
    _guard(call, call.params.get("KeyId"), "Encrypt", call.params.get("EncryptionContext"))
    return FORWARD


@emulates("kms", "GenerateDataKey")
def generate_data_key(call: Call) -> dict[str, Any]:
    _guard(call, call.params.get("KeyId"), "GenerateDataKey", call.params.get("EncryptionContext"))
    return FORWARD


@emulates("kms", "GenerateDataKeyWithoutPlaintext")
def generate_data_key_without_plaintext(call: Call) -> dict[str, Any]:
    _guard(
        call,
        call.params.get("KeyId"),
        "GenerateDataKeyWithoutPlaintext",
        call.params.get("EncryptionContext"),
    )
    return FORWARD


@emulates("kms", "Decrypt")
def decrypt(call: Call) -> dict[str, Any]:
    key_id = key_id_of_ciphertext(call.params.get("CiphertextBlob") or b"") or call.params.get("KeyId")
    _guard(call, key_id, "Decrypt", call.params.get("EncryptionContext"))
    return FORWARD


@emulates("kms", "ReEncrypt")
def re_encrypt(call: Call) -> dict[str, Any]:
    source = key_id_of_ciphertext(call.params.get("CiphertextBlob") or b"") or call.params.get("SourceKeyId")
    _guard(call, source, "ReEncryptFrom", call.params.get("SourceEncryptionContext"))
    _guard(
        call,
        call.params.get("DestinationKeyId"),
        "ReEncryptTo",
        call.params.get("DestinationEncryptionContext"),
    )
    return FORWARD
