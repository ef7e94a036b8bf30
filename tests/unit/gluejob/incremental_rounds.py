"""CDC rounds for the incremental-run tests (Arrow and Spark): change files and the expected tables.

A round writes two DMS change files per table through the lake's own writer (``Lake.put_raw``)
with updates, deletes, inserts of new keys, a key inserted and deleted within the round (in one
file and across the two), and a key deleted and inserted again. ``Model`` keeps the rows the
tables must hold afterwards, as the job reads them.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from dcp.masking.policy import Action
from dcp.masking.sample_data import generate_table
from tests.unit.gluejob.gluejob_lake import SAMPLE_COLUMNS, SAMPLE_POLICY, Lake, as_read_by_the_job, decrypt_columns

KEY_COLUMN = {"customer": "id", "bank": "id", "card": "id", "orders": "order_id"}


@dataclass
class Model:
    """The rows each table must hold (key -> row), and fresh rows to take values from."""

    tables: dict[str, dict[str, dict[str, Any]]]
    schemas: dict[str, pa.Schema]
    fresh: dict[str, Iterator[dict[str, Any]]] = field(default_factory=dict)
    next_key: int = 1_000_000
    #: the keys the last round of each table changed
    touched: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, raw: dict[str, pa.Table], fresh_rows: int = 2000) -> Model:
        model = cls(
            {name: {str(row[KEY_COLUMN[name]]): row for row in table.to_pylist()} for name, table in raw.items()},
            {name: table.schema for name, table in raw.items()},
        )
        for seed, name in enumerate(raw):
            extra = as_read_by_the_job(generate_table(name, fresh_rows, seed=100 + seed))
            model.fresh[name] = iter(extra.drop_columns([KEY_COLUMN[name]]).to_pylist())
        return model

    def new_key(self, table: str) -> str:
        self.next_key += 1
        return f"ORD-2099-{self.next_key}" if table == "orders" else str(self.next_key)

    def row(self, table: str, key: str) -> dict[str, Any]:
        return {KEY_COLUMN[table]: key, **next(self.fresh[table])}


def cdc_round(lake: Lake, model: Model, table: str, round_no: int, rng: random.Random, size: int = 6) -> list[str]:
    """Write one round of changes to ``table`` (two files) and apply them to ``model``."""
    current = model.tables[table]
    keys = sorted(current)
    picked = rng.sample(keys, 3 * size)
    updates, deletes, again = picked[:size], picked[size : 2 * size], picked[2 * size :]
    first: list[tuple[str, dict[str, Any]]] = []
    second: list[tuple[str, dict[str, Any]]] = []
    for key in updates:
        first.append(("U", model.row(table, key)))
    for key in deletes:
        first.append(("D", current[key]))
    for key in again:  # deleted, then inserted again with new values
        first.append(("D", current[key]))
        second.append(("I", model.row(table, key)))
    for _ in range(size):
        first.append(("I", model.row(table, model.new_key(table))))
    within = model.new_key(table)  # inserted and deleted in the same file
    first += [("I", model.row(table, within)), ("D", model.row(table, within))]
    across = model.new_key(table)  # inserted in the first file, deleted in the second
    row = model.row(table, across)
    first.append(("I", row))
    second.append(("D", row))
    second.append(("U", model.row(table, updates[0])))  # a key updated twice: the later wins
    names = []
    model.touched[table] = {str(values[KEY_COLUMN[table]]) for _, values in first + second}
    for index, changes in enumerate((first, second)):
        for op, values in changes:
            key = str(values[KEY_COLUMN[table]])
            if op == "D":
                current.pop(key, None)
            else:
                current[key] = values
        frame = pa.Table.from_pylist(
            [{"Op": op, **values} for op, values in changes],
            schema=pa.schema([("Op", pa.string()), *model.schemas[table]]),
        )
        name = f"2024{round_no:02d}01-{index:02d}0000000.csv"
        lake.put_raw(table, name, frame)
        names.append(lake.raw_key(table, name))
    return names


def encrypt_action_columns(table: str) -> list[str]:
    return [c for c, t in SAMPLE_COLUMNS.get(table, {}).items() if SAMPLE_POLICY.action_for(t) is Action.ENCRYPT]


def decrypted(lake: Lake, tables: list[str]) -> dict[tuple[str, str], pa.Table]:
    """Every output table sorted by key, its encrypted cells decrypted: what must equal cell by cell."""
    out = {}
    for table in tables:
        key = KEY_COLUMN[table]
        masked = lake.read("masked", table)
        if encrypt_action_columns(table):
            masked = decrypt_columns(masked, lake.crypto("masked", table), encrypt_action_columns(table))
        out["masked", table] = masked.sort_by(key).replace_schema_metadata(None)
        if table in SAMPLE_COLUMNS:
            encrypted = lake.read("encrypted", table)
            plain = decrypt_columns(encrypted, lake.crypto("encrypted", table), list(SAMPLE_COLUMNS[table]))
            out["encrypted", table] = plain.sort_by(key).replace_schema_metadata(None)
    return out


def expected_rows(model: Model, table: str) -> list[dict[str, Any]]:
    return [model.tables[table][key] for key in sorted(model.tables[table])]


def reference_lake(lake: Lake) -> Lake:
    """The same raw data and findings with another curated bucket: where full rebuilds go."""
    other = dataclasses.replace(lake, curated_bucket=lake.curated_bucket + "-full")
    other.s3.create_bucket(Bucket=other.curated_bucket)
    return other


def wrapped_keys(lake: Lake, kind: str, table: str) -> set[bytes]:
    import pyarrow.parquet as pq

    return {pq.read_schema(pa.BufferReader(body)).metadata[b"dcp:wrapped_key"] for body in lake.parts(kind, table)}
