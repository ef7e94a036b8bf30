"""Apply a table's masking plan to Arrow record batches, and stream whole tables through it.

:func:`mask_batch` is THE batch function: the local runner below, the sandbox's Glue job and
Spark's ``mapInArrow`` all call it, so every engine writes identical output for identical
input (up to the random GCM nonces). Output convention: both copies keep the input column
names and order; a ``drop`` column is absent from the masked copy; the encrypted copy
encrypts every flagged column and keeps unflagged ones; flagged columns become strings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dcp.masking.crypto import KmsLike, TableCrypto
from dcp.masking.plan import ColumnRule, TablePlan
from dcp.masking.policy import Action
from dcp.masking.readers import Source, open_batches
from dcp.masking.transforms import as_strings, partial, redact, token

META_ENCRYPTED_COLUMNS = b"dcp:encrypted_columns"


@dataclass(frozen=True)
class MaskedBatch:
    """The two outputs of one input batch: what users see, and what only KMS holders can read."""

    masked: pa.RecordBatch
    encrypted: pa.RecordBatch


@dataclass(frozen=True)
class MaskTableResult:
    rows: int
    batches: int
    masked_columns: tuple[str, ...]
    encrypted_columns: tuple[str, ...]
    dropped_columns: tuple[str, ...]


def _rebuild(
    array: pa.Array,
    rules: Mapping[tuple[str, ...], ColumnRule],
    leaf: Callable[[pa.Array, ColumnRule, tuple[str, ...]], pa.Array],
    path: tuple[str, ...] = (),
    inherited: ColumnRule | None = None,
) -> pa.Array:
    """``array`` with every flagged leaf replaced by ``leaf(values, rule, path)``, in place.

    Struct members are rebuilt with the member replaced; list elements are transformed on the
    list's values array and put back under the same offsets (so nulls, empty lists and slices
    are kept). A rule on a struct or list applies to every leaf below it.
    """
    rule = rules.get(path, inherited)
    data_type = array.type
    if pa.types.is_struct(data_type):
        children = [
            _rebuild(array.field(i), rules, leaf, (*path, data_type.field(i).name), rule)
            for i in range(data_type.num_fields)
        ]
        fields = [pa.field(data_type.field(i).name, child.type, nullable=True) for i, child in enumerate(children)]
        mask = array.is_null() if array.null_count else None
        return pa.StructArray.from_arrays(children, fields=fields, mask=mask)
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        offsets = array.offsets
        first = offsets[0].as_py() if len(offsets) else 0
        last = offsets[-1].as_py() if len(offsets) else 0
        values = _rebuild(array.values.slice(first, last - first), rules, leaf, path, rule)
        mask = array.is_null() if array.null_count else None
        kind = pa.ListArray if pa.types.is_list(data_type) else pa.LargeListArray
        return kind.from_arrays(pc.subtract(offsets, first), values, mask=mask)
    if rule is None:
        return array
    return leaf(array, rule, path)


def _nested_type(data_type: pa.DataType, rules: Mapping[tuple[str, ...], ColumnRule]) -> pa.DataType:
    """The type :func:`_rebuild` gives a column of ``data_type`` (flagged leaves become strings)."""
    empty = pa.array([], data_type)
    return _rebuild(empty, rules, lambda values, _rule, _path: pa.nulls(len(values), pa.string())).type


def output_schemas(schema: pa.Schema, table_plan: TablePlan) -> tuple[pa.Schema, pa.Schema]:
    """The (masked, encrypted) schemas that :func:`mask_batch` produces for ``schema``."""
    masked: list[pa.Field] = []
    encrypted: list[pa.Field] = []
    for field in schema:
        rules = table_plan.rules_under(field.name)
        if not rules:
            masked.append(field)
            encrypted.append(field)
            continue
        rule = rules.get(())
        if rule is not None and not _is_nested(field.type):
            encrypted.append(pa.field(field.name, pa.string(), nullable=True))
            if rule.action is Action.DROP:
                continue
            masked.append(field if rule.action is Action.KEEP else pa.field(field.name, pa.string(), nullable=True))
            continue
        nested = pa.field(field.name, _nested_type(field.type, rules), nullable=True)
        encrypted.append(nested)
        masked.append(nested)
    return pa.schema(masked), pa.schema(encrypted)


def _is_nested(data_type: pa.DataType) -> bool:
    return pa.types.is_nested(data_type) and not pa.types.is_dictionary(data_type)


def _masked_values(
    column: pa.Array, rule: ColumnRule, table_plan: TablePlan, name: str, token_key: bytes | None
) -> pa.Array:
    """``column`` under ``rule``'s action (``encrypt``/``drop`` are handled by the caller)."""
    action = rule.action
    if action is Action.KEEP:
        return column
    if action is Action.REDACT:
        return redact(column, table_plan.redact_mask)
    if action is Action.PARTIAL:
        return partial(column, table_plan.partial_keep)
    if action is Action.TOKEN:
        if not token_key:
            raise ValueError(f"column {name!r} is tokenised, so mask_batch needs a token key")
        return token(column, token_key)
    raise AssertionError(action)  # pragma: no cover - encrypt and drop never reach here


def _mask_nested(
    column: pa.Array,
    name: str,
    rules: Mapping[tuple[str, ...], ColumnRule],
    table_plan: TablePlan,
    crypto: TableCrypto,
    token_key: bytes | None,
) -> tuple[pa.Array, pa.Array]:
    """(masked, encrypted) copies of a struct/list column whose members or elements are flagged."""
    ciphertexts: dict[tuple[str, ...], pa.Array] = {}

    def encrypt_leaf(values: pa.Array, rule: ColumnRule, path: tuple[str, ...]) -> pa.Array:
        ciphertexts[path] = crypto.encrypt_array(values, ".".join((name, *path)), joinable=rule.joinable)
        return ciphertexts[path]

    def mask_leaf(values: pa.Array, rule: ColumnRule, path: tuple[str, ...]) -> pa.Array:
        if rule.action is Action.DROP:
            return pa.nulls(len(values), pa.string())
        if rule.action is Action.ENCRYPT:
            return ciphertexts[path]
        return as_strings(_masked_values(values, rule, table_plan, ".".join((name, *path)), token_key))

    encrypted = _rebuild(column, rules, encrypt_leaf)
    return _rebuild(column, rules, mask_leaf), encrypted


def mask_batch(
    batch: pa.RecordBatch, table_plan: TablePlan, crypto: TableCrypto | None, token_key: bytes | None
) -> MaskedBatch:
    """Mask one record batch by ``table_plan``; pure apart from the GCM nonces.

    A nested column (struct, list) keeps its shape: only its flagged members or elements change,
    each to the string its action gives (``drop`` makes a nested member null).
    """
    masked_schema, encrypted_schema = output_schemas(batch.schema, table_plan)
    masked: list[pa.Array] = []
    encrypted: list[pa.Array] = []
    for name, column in zip(batch.schema.names, batch.columns, strict=True):
        rules = table_plan.rules_under(name)
        if not rules:
            masked.append(column)
            encrypted.append(column)
            continue
        if crypto is None:
            raise ValueError(f"column {name!r} is flagged, so mask_batch needs a TableCrypto for the encrypted copy")
        rule = rules.get(())
        if rule is not None and not _is_nested(column.type):
            ciphertext = crypto.encrypt_array(column, name, joinable=rule.joinable)
            encrypted.append(ciphertext)
            if rule.action is Action.DROP:
                continue
            if rule.action is Action.ENCRYPT:
                masked.append(ciphertext)
            else:
                masked.append(_masked_values(column, rule, table_plan, name, token_key))
            continue
        nested_masked, nested_encrypted = _mask_nested(column, name, rules, table_plan, crypto, token_key)
        masked.append(nested_masked)
        encrypted.append(nested_encrypted)
    return MaskedBatch(
        masked=pa.RecordBatch.from_arrays(masked, schema=masked_schema),
        encrypted=pa.RecordBatch.from_arrays(encrypted, schema=encrypted_schema),
    )


def mask_table(
    source: Source,
    table_plan: TablePlan,
    *,
    out_masked: str | os.PathLike[str],
    out_encrypted: str | os.PathLike[str],
    kms: KmsLike,
    key_id: str,
    token_key: bytes | None,
    batch_size: int = 65536,
    table: str | None = None,
    fmt: str | None = None,
) -> MaskTableResult:
    """Stream ``source`` through :func:`mask_batch` into a masked and an encrypted Parquet file.

    One KMS GenerateDataKey for the table (none when no column is flagged); memory is bounded
    by ``batch_size`` rows. ``table`` (default: the plan's name) is bound into the encryption
    context.
    """
    name = table or table_plan.name
    if not name:
        raise ValueError("mask_table needs the table name (TablePlan.name or table=)")
    reader = open_batches(source, fmt=fmt, batch_size=batch_size)
    masked_schema, encrypted_schema = output_schemas(reader.schema, table_plan)
    crypto = TableCrypto.create(kms, key_id, name) if any(map(table_plan.flags, reader.schema.names)) else None
    # reveal decrypts whole top-level columns; encrypted nested members are listed by path below
    whole = tuple(
        n for n in reader.schema.names if table_plan.rule(n) is not None and not _is_nested(reader.schema.field(n).type)
    )
    encrypt_action = tuple(n for n in whole if table_plan.columns[n].action is Action.ENCRYPT)
    masked_schema = masked_schema.with_metadata(_metadata(crypto, encrypt_action))
    encrypted_schema = encrypted_schema.with_metadata(_metadata(crypto, whole))
    flagged = tuple(p for p in table_plan.columns if any(p == n or p.startswith(n + ".") for n in reader.schema.names))
    rows = batches = 0
    with (
        pq.ParquetWriter(os.fspath(out_masked), masked_schema) as masked_writer,
        pq.ParquetWriter(os.fspath(out_encrypted), encrypted_schema) as encrypted_writer,
    ):
        for batch in reader:
            if batch.num_rows > batch_size:
                parts = [batch.slice(i, batch_size) for i in range(0, batch.num_rows, batch_size)]
            else:
                parts = [batch]
            for part in parts:
                result = mask_batch(part, table_plan, crypto, token_key)
                masked_writer.write_batch(result.masked.replace_schema_metadata(masked_schema.metadata))
                encrypted_writer.write_batch(result.encrypted.replace_schema_metadata(encrypted_schema.metadata))
                rows += part.num_rows
                batches += 1
    dropped = tuple(n for n in flagged if table_plan.columns[n].action is Action.DROP)
    masked_columns = tuple(n for n in flagged if table_plan.columns[n].action is not Action.KEEP)
    return MaskTableResult(
        rows=rows,
        batches=batches,
        masked_columns=masked_columns,
        encrypted_columns=flagged,
        dropped_columns=dropped,
    )


def _metadata(crypto: TableCrypto | None, encrypted_columns: Sequence[str]) -> dict[bytes, bytes]:
    if crypto is None or not encrypted_columns:
        return {}
    return crypto.metadata() | {META_ENCRYPTED_COLUMNS: json.dumps(list(encrypted_columns)).encode()}


def encrypted_columns_of(metadata: dict[bytes, bytes] | None) -> tuple[str, ...]:
    """The columns a dcp Parquet file says it holds encrypted."""
    raw = (metadata or {}).get(META_ENCRYPTED_COLUMNS)
    return tuple(json.loads(raw)) if raw else ()


def reveal_table(
    path: str | os.PathLike[str],
    kms: KmsLike,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
) -> pa.Table:
    """Decrypt a dcp Parquet file (one kms:Decrypt); raises KmsAccessDenied without it.

    ``columns`` selects columns (default all), ``limit`` the first rows. Decrypted columns
    are strings; the key is unwrapped before any row is read, so a refused caller gets no data.
    """
    parquet = pq.ParquetFile(os.fspath(path))
    metadata = parquet.schema_arrow.metadata or {}
    encrypted = encrypted_columns_of(metadata)
    wanted = list(columns) if columns is not None else parquet.schema_arrow.names
    missing = [c for c in wanted if c not in parquet.schema_arrow.names]
    if missing:
        raise KeyError(f"no column(s) {', '.join(missing)} in {os.fspath(path)}")
    to_decrypt = [c for c in wanted if c in encrypted]
    crypto = TableCrypto.from_metadata(kms, metadata) if to_decrypt else None
    batches: list[pa.RecordBatch] = []
    remaining = limit
    for batch in parquet.iter_batches(columns=wanted, batch_size=65536):
        if remaining is not None:
            if remaining <= 0:
                break
            batch = batch.slice(0, remaining)
            remaining -= batch.num_rows
        batches.append(batch)
    schema = pa.schema([parquet.schema_arrow.field(name) for name in wanted])
    table = pa.Table.from_batches(batches, schema=schema)
    if crypto is None:
        return table.replace_schema_metadata(None)
    for column in to_decrypt:
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, crypto.decrypt_array(table.column(column), column))
    return table.replace_schema_metadata(None)
