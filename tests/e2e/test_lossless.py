"""Nothing is lost on the way: every source value reads back exactly in every zone.

Rows with leading zeros, NULL and the empty string, Unicode, quotes, commas and newlines inside
values and a 100 kB value go into the sandbox's SQLite source beside seeded rows. After DMS
(typed Parquet), Macie, the crawler and the Glue workflow: lf-admin's Athena view of the raw
zone equals the source cell by cell, the masked zone has the source's row count and key set,
and ml-training's decrypted copy equals the source cell by cell; again after a CDC round
(insert, update, delete).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest

from tests.e2e.conftest import Dcp, ids_everywhere

ROWS, SEED = 30, 5
LONG = ('0123456789 Zoë ∑ "q", line\n' * 4000)[:100_000]
CARD_ROWS = {
    1001: ("Diners Club", "060414234710", "09/32", "093"),
    1002: (None, "0000000000000000", "", "007"),
    1003: ("", "4111111111111111", None, "000"),
    1004: ('Zoë "Ω" Bank, Ltd.\nline two\r\nthree', "30543044228644", "01/30", "12"),
    1005: (LONG, "0030543044228644", "12/99", "0"),
}
CUSTOMER_ROWS = {
    2001: ("jøe_01", "Zoë Ölçek-Ñandú", "F", "zoe.olcek@example.com", "0001-01-01"),
    2002: ("", None, "", "o'brien+tag@example.org", "1970-01-01"),
    2003: ('quo"te,user', "李小龍", None, "li@example.cn", "01/02/1940"),
}


def _db(dcp: Dcp) -> sqlite3.Connection:
    """The sandbox's RDS instance is an SQLite file behind its endpoint name."""
    return sqlite3.connect(dcp.source_sqlite())


def _insert(dcp: Dcp, table: str, rows: dict[int, tuple[Any, ...]]) -> None:
    with closing(_db(dcp)) as db, db:
        columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        marks = ",".join("?" * len(columns))
        db.executemany(f"INSERT INTO {table} VALUES ({marks})", [(i, *v) for i, v in rows.items()])


def _source(dcp: Dcp, table: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Columns and rows (by id, as text) of the source table, read straight from SQLite."""
    with closing(_db(dcp)) as db:
        cursor = db.execute(f"SELECT * FROM {table}")
        columns = [d[0] for d in cursor.description]
        rows = {str(r[0]): dict(zip(columns, r, strict=True)) for r in cursor}
    return columns, rows


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _raw_current(dcp: Dcp, table: str) -> dict[str, dict[str, Any]]:
    """lf-admin's Athena view of the raw zone, DMS's Op applied (one change per key per round)."""
    run = dcp("--output", "json", "query", "--persona", "lf-admin", f'SELECT * FROM "dataset"."{table}"')
    by_id: dict[str, dict[str, Any]] = {}
    deleted: set[str] = set()
    rank = {"I": 0, "U": 1}
    for row in run.json()["rows"]:
        key, op = str(row["id"]), row.get("op") or "I"
        if op == "D":
            deleted.add(key)
        elif key not in by_id or rank[op] >= rank[by_id[key].get("op") or "I"]:
            by_id[key] = row
    return {k: v for k, v in by_id.items() if k not in deleted}


def _revealed(dcp: Dcp, table: str) -> dict[str, dict[str, Any]]:
    run = dcp("--output", "json", "reveal", "--persona", "ml-training", table, "--limit", "100000")
    return {str(r["id"]): r for r in run.json()["rows"]}


def _differences(source: dict[str, dict[str, Any]], zone: dict[str, dict[str, Any]], columns: list[str]) -> list[str]:
    """Where `zone` differs from `source` (keys and columns only: never a value)."""
    out = [f"id {k} missing" for k in sorted(set(source) - set(zone))]
    out += [f"id {k} extra" for k in sorted(set(zone) - set(source))]
    for key in sorted(set(source) & set(zone)):
        out += [
            f"id {key} column {c}"
            for c in columns
            if _text(source[key][c]) != _text(zone[key].get(c, zone[key].get(c.lower())))
        ]
    return out


def _check_every_zone(dcp: Dcp) -> None:
    for table in ("card", "customer"):
        columns, source = _source(dcp, table)
        assert not _differences(source, _raw_current(dcp, table), columns), f"raw {table}"
        ids = ids_everywhere(dcp, table)
        assert ids["masked"] == set(source), f"masked {table}"
        assert ids["encrypted"] == set(source), f"encrypted {table}"
        assert not _differences(source, _revealed(dcp, table), columns), f"decrypted {table}"


@pytest.fixture(scope="module")
def lake(sandbox_factory: Any) -> Iterator[Dcp]:
    dcp = sandbox_factory("lossless")
    dcp("up")
    dcp("seed", "--rows", str(ROWS), "--seed", str(SEED))
    _insert(dcp, "card", CARD_ROWS)
    _insert(dcp, "customer", CUSTOMER_ROWS)
    dcp("scan", "--wait")
    dcp("grant", "--all")
    yield dcp


def test_raw_zone_is_typed_from_the_source(lake: Dcp) -> None:
    names = lake.names()
    glue = lake.aws().client("glue")
    columns = glue.get_table(DatabaseName=names.raw_database, Name="card")["Table"]["StorageDescriptor"]["Columns"]
    types = {c["Name"]: c["Type"] for c in columns}
    assert types["card_number"] == "string" and types["security_code"] == "string"
    assert types["id"] == "bigint"


def test_every_value_reads_back_exactly_in_every_zone(lake: Dcp) -> None:
    _check_every_zone(lake)


def test_and_after_a_cdc_round(lake: Dcp) -> None:
    with closing(_db(lake)) as db, db:
        db.execute("UPDATE card SET provider = NULL, security_code = '0099' WHERE id = 1001")
        db.execute("UPDATE card SET provider = '' WHERE id = 1002")
        db.execute("UPDATE customer SET name = 'Ann \"A\", Lee\nJr.' WHERE id = 2002")
        db.execute("DELETE FROM card WHERE id = 1005")
        db.execute("DELETE FROM customer WHERE id = 2003")
        db.execute("INSERT INTO card VALUES (1006, 'Ω', '000123', NULL, '010')")
    lake("scan", "--wait")
    _check_every_zone(lake)
