"""The training path: read the encrypted copy as a persona and decrypt it with that persona's KMS rights.

This is the one place plaintext of flagged columns is reconstructed. Callers decide what to do
with it: `dcp reveal` prints it (the user asked explicitly), `dcp demo` and `examples/train.py`
only compare or train on it and never print it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from botocore.exceptions import ClientError

from dcp.aws.errors import error_code, error_message, is_access_denied
from dcp.aws.session import AwsContext
from dcp.names import StackNames
from dcp.pipeline.errors import AccessRefused, PipelineError
from dcp.pipeline.lake import parquet_objects

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
    out = []
    for field in table.schema:
        if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)):
            continue
        column = table.column(field.name).drop_null()
        if len(column) and pc.all(pc.starts_with(column, CELL_PREFIX)).as_py():
            out.append(field.name)
    return out


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
            for name in columns:
                i = part.schema.get_field_index(name)
                part = part.set_column(i, name, crypto.decrypt_array(part.column(name), name))
            decrypted = decrypted or columns
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
