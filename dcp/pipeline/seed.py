"""Seed the source database with Faker tables through the in-VPC seed Lambda, and change it for CDC.

The source database is private (in the VPC), so rows travel as `lambda.invoke` payloads to the
seed Lambda, which writes them with SQLAlchemy. Batches stay well under Lambda's 6 MB
synchronous payload limit. Data is reproducible: the same `--rows` and `--seed` give the same
rows; a change round (`--update-fraction`) is reproducible from the seed and the source's state.

A run is all or nothing (:func:`seed_tables`): every table's rows go to its staging table first
and one `commit` invoke applies all of them in one transaction (see `dcp.lambdas.seed`); a run
that fails drops the staging tables and leaves the source as it was.
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import replace as replace_counts
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import pyarrow as pa

from dcp.aws.session import AwsContext
from dcp.errors import scrub
from dcp.pipeline.errors import PipelineError

MAX_BATCH_ROWS = 5000  # per invoke: few enough for one short transaction, many enough to amortise it
MAX_PAYLOAD_BYTES = 5_000_000  # Lambda's synchronous limit is 6 MB; keep a margin
PRIMARY_KEY = "id"


# --------------------------------------------------------------------------- pure


@dataclass(frozen=True)
class TableRows:
    """Column names and row values (JSON-ready) of one generated table."""

    name: str
    columns: tuple[str, ...]
    rows: list[list[Any]]

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


def _json_value(value: Any) -> Any:
    """The seed Lambda stores every non-key column as text: send text (or null)."""
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Decimal | float | int | bool):
        return str(value)
    return str(value)


def to_table_rows(name: str, data: Any) -> TableRows:
    """A generated table (pyarrow Table, or list of dicts) as columns + JSON-ready rows.

    The key stays an integer; every other column becomes text (ISO dates), as the seed
    Lambda stores it.
    """
    if isinstance(data, pa.Table):
        columns = tuple(data.column_names)
        values = []
        for column in columns:
            array = data.column(column)
            if column == PRIMARY_KEY:
                values.append([int(v) for v in array.to_pylist()])
            elif pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
                values.append(array.to_pylist())
            else:
                values.append([_json_value(v) for v in array.to_pylist()])
        return TableRows(name, columns, [list(row) for row in zip(*values, strict=True)])
    records = list(data)
    columns = tuple(records[0].keys()) if records else ()
    rows = [[int(r[c]) if c == PRIMARY_KEY else _json_value(r.get(c)) for c in columns] for r in records]
    return TableRows(name, columns, rows)


def generate_arrow(table: str, rows: int, seed: int) -> pa.Table:
    """Faker rows for `table` (customer, bank, card) as Arrow, identical for identical (rows, seed)."""
    from dcp.masking.sample_data import generate_table

    return generate_table(table, rows, seed)


@lru_cache(maxsize=8)
def generate(table: str, rows: int, seed: int) -> TableRows:
    """The rows `dcp seed` writes for (table, rows, seed), as Python values.

    Cached: the demo and the tests compare against the rows they seeded in the same process.
    Callers must not modify the result.
    """
    return to_table_rows(table, generate_arrow(table, rows, seed))


def batches(rows: Sequence[list[Any]], *, max_rows: int = MAX_BATCH_ROWS) -> Iterator[Sequence[list[Any]]]:
    """Slices of at most `max_rows` rows whose JSON stays under the payload limit."""
    if not rows:
        return
    sample = rows[: min(len(rows), 50)]
    per_row = max(1, len(json.dumps(sample, default=str)) // len(sample))
    size = max(1, min(max_rows, MAX_PAYLOAD_BYTES // (per_row * 2)))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


@dataclass(frozen=True)
class ChangePlan:
    """Which existing ids a CDC round updates and deletes, and which new ids it inserts."""

    update_ids: tuple[int, ...]
    delete_ids: tuple[int, ...]
    insert_ids: tuple[int, ...]


def plan_changes(ids: Sequence[int], fraction: float, seed: int, table: str) -> ChangePlan:
    """Pick `fraction` of the rows to update, half as many to delete, a quarter as many new rows.

    Reproducible from (ids, fraction, seed, table); update and delete sets are disjoint.
    """
    if not 0 <= fraction <= 1:
        raise ValueError("the update fraction must be between 0 and 1")
    existing = sorted(int(i) for i in ids)
    n = len(existing)
    if n == 0 or fraction == 0:
        return ChangePlan((), (), ())
    rng = random.Random(f"{seed}:{table}:{n}:{existing[-1]}")
    updates = max(1, round(n * fraction))
    deletes = max(1, round(n * fraction / 2)) if n > updates else 0
    inserts = max(1, round(n * fraction / 4))
    chosen = rng.sample(existing, min(n, updates + deletes))
    update_ids = tuple(sorted(chosen[:updates]))
    delete_ids = tuple(sorted(chosen[updates:]))
    start = existing[-1] + 1
    return ChangePlan(update_ids, delete_ids, tuple(range(start, start + inserts)))


def with_ids(data: TableRows, ids: Sequence[int]) -> TableRows:
    """`data`'s first len(ids) rows with their primary key replaced by `ids`."""
    key = data.columns.index(PRIMARY_KEY)
    rows = []
    for row, new_id in zip(data.rows, ids, strict=False):
        row = list(row)
        row[key] = new_id
        rows.append(row)
    return TableRows(data.name, data.columns, rows)


# --------------------------------------------------------------------------- AWS


@dataclass
class SeedClient:
    """Calls the seed Lambda: one synchronous invoke per request, errors as PipelineError."""

    aws: AwsContext
    function: str

    def call(self, event: Mapping[str, Any]) -> dict[str, Any]:
        response = self.aws.client("lambda").invoke(
            FunctionName=self.function,
            InvocationType="RequestResponse",
            Payload=json.dumps(event, default=str).encode("utf-8"),
        )
        raw = response["Payload"].read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"errorMessage": raw[:200].decode("utf-8", "replace")}
        if response.get("FunctionError") or (isinstance(body, dict) and "errorMessage" in body):
            # the message may come from an older Lambda that echoes SQL parameters: scrub it
            message = scrub(str(body.get("errorMessage", "") if isinstance(body, dict) else body))
            kind = body.get("errorType", "") if isinstance(body, dict) else ""
            what = event.get("table") or ", ".join(event.get("tables") or [])
            raise PipelineError(
                f"the seed Lambda {self.function} failed on {event.get('mode')} {what}: "
                f"{kind + ': ' if kind else ''}{message}; the source tables are unchanged, fix the cause and rerun"
            )
        return body if isinstance(body, dict) else {"result": body}

    def create(self, table: str, columns: Sequence[str]) -> int:
        """Create the table (an `id` primary key, text columns) if missing; its current row count."""
        body = self.call({"table": table, "columns": list(columns), "rows": [], "mode": "create"})
        return int(body.get("count", 0))

    def stage(self, table: str, columns: Sequence[str]) -> int:
        """Create the table if missing and a fresh, empty staging table; the table's row count."""
        body = self.call({"table": table, "columns": list(columns), "rows": [], "mode": "stage"})
        return int(body.get("count", 0))

    def commit(self, tables: Sequence[str], *, replace: bool) -> dict[str, dict[str, int]]:
        """Apply every staged table in one transaction: {table: {deleted, inserted, count}}."""
        body = self.call({"tables": list(tables), "mode": "commit", "replace": replace})
        return {str(k): {n: int(v) for n, v in c.items()} for k, c in (body.get("tables") or {}).items()}

    def abort(self, tables: Sequence[str]) -> None:
        """Drop the staging tables of `tables` (the source tables are untouched)."""
        self.call({"tables": list(tables), "mode": "abort"})

    def write(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[list[Any]],
        mode: str,
        advance: Callable[[int], None] | None = None,
        *,
        staged: bool = False,
    ) -> int:
        written = 0
        for batch in batches(rows):
            event = {"table": table, "columns": list(columns), "rows": list(batch), "mode": mode}
            self.call({**event, "staged": True} if staged else event)
            written += len(batch)
            if advance is not None:
                advance(len(batch))
        return written

    def count(self, table: str) -> int:
        body = self.call({"table": table, "columns": [], "rows": [], "mode": "count"})
        return int(body.get("count", 0))

    def ids(self, table: str) -> list[int]:
        body = self.call({"table": table, "columns": [PRIMARY_KEY], "rows": [], "mode": "select_ids"})
        return [int(i) for i in body.get("ids", [])]


@dataclass(frozen=True)
class SeedCounts:
    table: str
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    total: int = 0


CONVERT_ROWS = 50_000  # Arrow rows turned into Python values at a time: memory stays flat


def stage_seed(
    client: SeedClient, table: str, rows: int, seed: int, advance: Callable[[int], None] | None = None
) -> SeedCounts:
    """Stage the `rows` Faker rows of `seed` for `table` (the commit replaces the table's rows)."""
    data = generate_arrow(table, rows, seed)
    columns = tuple(data.column_names)
    client.stage(table, columns)
    inserted = 0
    for start in range(0, data.num_rows, CONVERT_ROWS):
        chunk = to_table_rows(table, data.slice(start, CONVERT_ROWS))
        inserted += client.write(table, columns, chunk.rows, "insert", advance, staged=True)
    return SeedCounts(table, inserted=inserted)


def stage_changes(
    client: SeedClient,
    table: str,
    fraction: float,
    seed: int,
    advance: Callable[[int], None] | None = None,
) -> SeedCounts:
    """Stage a change round of `table`: new Faker values for some rows, deletes and inserts."""
    plan = plan_changes(client.ids(table), fraction, seed, table)
    fresh_count = len(plan.update_ids) + len(plan.insert_ids)
    fresh = generate(table, fresh_count, random.Random(f"{seed}:{table}:changes:{plan}").randrange(2**31))
    updates = with_ids(TableRows(table, fresh.columns, fresh.rows[: len(plan.update_ids)]), plan.update_ids)
    inserts = with_ids(TableRows(table, fresh.columns, fresh.rows[len(plan.update_ids) :]), plan.insert_ids)
    client.stage(table, fresh.columns)
    updated = client.write(table, updates.columns, updates.rows, "upsert", advance, staged=True)
    deleted = client.write(table, [PRIMARY_KEY], [[i] for i in plan.delete_ids], "delete", advance, staged=True)
    inserted = client.write(table, inserts.columns, inserts.rows, "insert", advance, staged=True)
    return SeedCounts(table, inserted=inserted, updated=updated, deleted=deleted)


def seed_tables(
    client: SeedClient,
    tables: Sequence[str],
    stage: Callable[[str], SeedCounts],
    *,
    replace: bool,
) -> list[SeedCounts]:
    """Stage every table with `stage` (in parallel), then commit them all in one transaction.

    If staging or the commit fails, the staging tables are dropped and the error raised: the
    source tables are as they were before the run.
    """
    if len(set(tables)) != len(tables) or not tables:
        raise ValueError("seed_tables needs distinct table names")
    try:
        with ThreadPoolExecutor(len(tables)) as pool:  # the tables' Lambda round trips overlap
            staged = list(pool.map(stage, tables))
        committed = client.commit(tables, replace=replace)
    except BaseException:
        with contextlib.suppress(Exception):
            client.abort(tables)
        raise
    out = []
    for counts in staged:
        result = committed.get(counts.table, {})
        deleted = result.get("deleted", 0) if replace else counts.deleted
        out.append(replace_counts(counts, deleted=deleted, total=result.get("count", 0)))
    return out


def expected_total(plan: ChangePlan, before: int) -> int:
    return before - len(plan.delete_ids) + len(plan.insert_ids)
