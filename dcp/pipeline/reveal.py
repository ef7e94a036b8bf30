"""The training path: read the encrypted copy as a persona and decrypt it with that persona's KMS rights.

This is the one place plaintext of flagged columns is reconstructed. Callers decide what to do
with it: `dcp reveal` prints it (the user asked explicitly), `dcp demo` and `examples/train.py`
only compare or train on it and never print it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import ClientError

from dcp.aws.errors import error_code, error_message, is_access_denied
from dcp.aws.session import AwsContext
from dcp.names import StackNames
from dcp.pipeline.errors import AccessRefused, PipelineError
from dcp.pipeline.lake import parquet_objects

if TYPE_CHECKING:
    from dcp.masking.crypto import TableCrypto

CELL_PREFIX = "v1:"


@dataclass(frozen=True)
class RevealedTable:
    table: str
    data: pa.Table
    decrypted_columns: tuple[str, ...]

    @property
    def num_rows(self) -> int:
        return int(self.data.num_rows)


def encrypted_columns(table: pa.Table) -> list[str]:
    """String columns whose non-null cells are dcp ciphertexts."""
    return [name for name, column in zip(table.column_names, table.columns, strict=True) if _is_ciphertext(column)]


def _is_ciphertext(array: pa.Array | pa.ChunkedArray) -> bool:
    """A string column whose non-null cells (at least one) are all dcp ciphertexts."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return False
    values = array.drop_null()
    return bool(len(values)) and bool(pc.all(pc.starts_with(values, CELL_PREFIX)).as_py())


def decrypt_nested(array: pa.Array, crypto: TableCrypto, path: tuple[str, ...], found: list[str]) -> pa.Array:
    """``array`` with every encrypted leaf decrypted in place (struct members, list elements).

    The masking engine encrypts a nested leaf under the dotted path of its struct members
    (``person.email``; list elements share their list's path, ``cards`` or ``cards.number``);
    each decrypted path is appended to ``found``. Offsets and null masks are kept.
    """
    data_type = array.type
    if pa.types.is_struct(data_type):
        children = [
            decrypt_nested(array.field(i), crypto, (*path, data_type.field(i).name), found)
            for i in range(data_type.num_fields)
        ]
        fields = [pa.field(data_type.field(i).name, c.type, nullable=True) for i, c in enumerate(children)]
        return pa.StructArray.from_arrays(children, fields=fields, mask=array.is_null() if array.null_count else None)
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        offsets = array.offsets
        first = offsets[0].as_py() if len(offsets) else 0
        last = offsets[-1].as_py() if len(offsets) else 0
        values = decrypt_nested(array.values.slice(first, last - first), crypto, path, found)
        kind = pa.ListArray if pa.types.is_list(data_type) else pa.LargeListArray
        return kind.from_arrays(pc.subtract(offsets, first), values, mask=array.is_null() if array.null_count else None)
    if _is_ciphertext(array):
        name = ".".join(path)
        if name not in found:
            found.append(name)
        return crypto.decrypt_array(array, name)
    return array


def _decrypt_part(part: pa.Table, crypto: TableCrypto, columns: Sequence[str]) -> tuple[pa.Table, list[str]]:
    """``part`` with ``columns`` and every encrypted nested leaf decrypted; the paths decrypted."""
    found: list[str] = []
    for index, field in enumerate(part.schema):
        nested = pa.types.is_nested(field.type)
        if field.name not in columns and not nested:
            continue
        column = part.column(index).combine_chunks()
        if nested:
            column = decrypt_nested(column, crypto, (field.name,), found)
        else:
            column = crypto.decrypt_array(column, field.name)
            found.append(field.name)
        part = part.set_column(index, pa.field(field.name, column.type, nullable=True), column)
    return part, found


def reveal_table(aws: AwsContext, names: StackNames, table: str, *, limit: int | None = None) -> RevealedTable:
    """Decrypt the encrypted copy of `table` with `aws`'s identity (one kms:Decrypt per data key)."""
    from dcp.masking.apply import encrypted_columns_of
    from dcp.masking.crypto import KmsAccessDenied, TableCrypto

    kms = aws.client("kms")
    keys: dict[bytes, TableCrypto] = {}
    parts: list[pa.Table] = []
    decrypted: list[str] = []
    rows = 0
    try:
        for _, part in parquet_objects(aws, names.curated_bucket, names.encrypted_prefix(table)):
            metadata = part.schema.metadata or {}
            wrapped = metadata.get(b"dcp:wrapped_key", b"")
            if wrapped not in keys:
                keys[wrapped] = TableCrypto.from_metadata(kms, metadata)
            crypto = keys[wrapped]
            columns = list(encrypted_columns_of(metadata)) or encrypted_columns(part)
            part, found = _decrypt_part(part, crypto, columns)
            decrypted += [name for name in found if name not in decrypted]
            parts.append(part.replace_schema_metadata(None))
            rows += part.num_rows
            if limit is not None and rows >= limit:
                break
    except KmsAccessDenied as exc:
        raise AccessRefused(f"KMS refused (AccessDeniedException) to decrypt the data key of {table}: {exc}") from None
    except ClientError as exc:
        if is_access_denied(exc):
            raise AccessRefused(
                f"access denied reading s3://{names.curated_bucket}/{names.encrypted_prefix(table)}: "
                f"{error_message(exc) or error_code(exc)}"
            ) from None
        raise
    if not parts:
        raise PipelineError(
            f"no encrypted data for {table} under "
            f"s3://{names.curated_bucket}/{names.encrypted_prefix(table)}; run `dcp scan --wait` first"
        )
    data = pa.concat_tables(parts, promote_options="default")
    if limit is not None:
        data = data.slice(0, limit)
    return RevealedTable(table, data, tuple(decrypted))


def reveal_as(
    aws: AwsContext, names: StackNames, role_arn: str, table: str, *, limit: int | None = None
) -> RevealedTable:
    """Assume `role_arn`, then reveal `table` with its S3 and KMS rights."""
    return reveal_table(aws.assume(role_arn, session_name="dcp-reveal"), names, table, limit=limit)
