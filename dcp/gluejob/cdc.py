"""Apply DMS change data by primary key, in pure Arrow: the current rows of a table.

Every parsed row carries its operation (I/U/D), the index of its file in change order and its
row number in that file (see :mod:`dcp.gluejob.rawdata`). Together they are its *sequence*;
for each primary key the row with the highest sequence is the current state, unless that row
is a delete. An update therefore replaces the row, a delete removes it, and an insert after a
delete brings the key back.

The merge runs in two passes so memory holds only the key columns, never the whole table:
:func:`surviving_sequences` over (key, op, file, row) of every file, then :func:`keep_current`
on each full batch as it streams past. The Spark engine computes the same thing with a window
over (key, sequence).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from dcp.gluejob.rawdata import OP_COLUMN, SEQ_FILE, SEQ_OP, SEQ_ROW

_ROW_BITS = 40  # up to 2**40 rows per file, 2**23 files per table


def sequence(batch: pa.RecordBatch | pa.Table) -> pa.Array:
    """One int64 per row, ordered like (file index, row number)."""
    files = pc.cast(batch.column(SEQ_FILE), pa.int64())
    rows = batch.column(SEQ_ROW)
    combined = pc.add(pc.shift_left(files, _ROW_BITS), rows)
    return combined.combine_chunks() if isinstance(combined, pa.ChunkedArray) else combined


def surviving_sequences(keys: pa.Table, primary_key: str) -> pa.Array:
    """Sequences of the rows that are current: the last row of each key, if not a delete.

    ``keys`` holds ``primary_key`` and the op/file/row columns of every row of the table.
    """
    seq = sequence(keys)
    latest = (
        pa.table({"key": keys.column(primary_key), "seq": seq})
        .group_by("key", use_threads=False)
        .aggregate([("seq", "max")])
        .column("seq_max")
        .combine_chunks()
    )
    last_ops = pc.take(keys.column(SEQ_OP), pc.index_in(latest, value_set=seq))
    alive = pc.not_equal(pc.fill_null(last_ops, "I"), "D")
    return pc.filter(latest, alive)


def latest_rows(rows: pa.Table, primary_key: str) -> pa.Table:
    """The last row of each key in ``rows`` (sequenced), deletes included: what a CDC round
    leaves of every key it touches (``SEQ_OP`` ``D``: the key is gone)."""
    seq = sequence(rows)
    latest = (
        pa.table({"key": rows.column(primary_key), "seq": seq})
        .group_by("key", use_threads=False)
        .aggregate([("seq", "max")])
        .column("seq_max")
    )
    return rows.filter(pc.is_in(seq, value_set=latest.combine_chunks()))


def keep_current(batch: pa.RecordBatch, survivors: pa.Array) -> pa.RecordBatch:
    """The rows of ``batch`` whose sequence is among ``survivors``."""
    return batch.filter(pc.is_in(sequence(batch), value_set=survivors))


def apply_changes(parts: Sequence[pa.Table], primary_key: str) -> pa.Table:
    """The current table after applying ``parts`` (full load first, then change files) in order.

    Each part may start with DMS's ``Op`` column; parts without it are inserts. The result has
    the columns of the first part (without ``Op``) and the surviving rows in sequence order.
    A convenience over :func:`surviving_sequences` for data already in memory.
    """
    if not parts:
        raise ValueError("apply_changes needs at least the full load")
    columns = [name for name in parts[0].column_names if name != OP_COLUMN]
    tagged = list(_tagged(parts, columns))
    table = pa.concat_tables(tagged, promote_options="permissive")
    survivors = surviving_sequences(table.select([primary_key, SEQ_OP, SEQ_FILE, SEQ_ROW]), primary_key)
    current = table.filter(pc.is_in(sequence(table), value_set=survivors))
    return current.select(columns)


def _tagged(parts: Iterable[pa.Table], columns: list[str]) -> Iterable[pa.Table]:
    for index, part in enumerate(parts):
        n = part.num_rows
        ops = (
            pc.utf8_upper(pc.cast(part.column(OP_COLUMN), pa.string()))
            if OP_COLUMN in part.column_names
            else pa.repeat(pa.scalar("I", pa.string()), n)
        )
        arrays = [part.column(c) if c in part.column_names else pa.nulls(n) for c in columns]
        yield pa.table(
            [*arrays, ops, pa.repeat(pa.scalar(index, pa.int32()), n), pa.arange(0, n)],
            names=[*columns, SEQ_OP, SEQ_FILE, SEQ_ROW],
        )
