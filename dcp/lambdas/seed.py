"""Lambda (in the VPC): write rows into the private source database, the only way in (RDS is never public).

Event: {"table": str, "columns": [str], "rows": [[...]], "mode": "insert" | "upsert" | "delete" |
"create" | "count" | "select_ids"}. `create` makes the table (an `id` BIGINT primary key and the
columns as text) if it does not exist; rows carry `id` as their first column wherever ids matter.
On PostgreSQL every mode works on `<dbname>.<table>` (see `source_schema`).
`create` also sets RDS for MySQL's binlog retention (see set_binlog_retention).
Returns counts, never row values.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

MODES = ("insert", "upsert", "delete", "create", "count", "select_ids")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _secret() -> dict[str, Any]:
    import boto3

    value = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["DB_SECRET_ARN"])
    return dict(json.loads(value["SecretString"]))


def _engine(secret: dict[str, Any]) -> Any:
    from sqlalchemy import create_engine

    try:
        from dburl import connect_args, sqlalchemy_url  # as packaged in the zip
    except ImportError:
        from dcp.lambdas.dburl import connect_args, sqlalchemy_url
    return create_engine(sqlalchemy_url(secret), pool_pre_ping=True, connect_args=connect_args(secret))


def source_schema(engine: Any) -> str | None:
    """The schema the source tables live in: on PostgreSQL one named like the database.

    DMS's table mappings and the raw bucket's `<schema>/<table>/` layout name the schema after
    the database (`source.db_name`); MySQL's schema is the database and SQLite has none (None:
    the connection's default).
    """
    if engine.dialect.name != "postgresql":
        return None
    name = str(engine.url.database or "")
    if not NAME.match(name):
        raise ValueError(f"invalid database name {name!r} for the source schema")
    return name


#: RDS for MySQL's configuration procedure, and how long it keeps binary logs for DMS: RDS purges
#: them as soon as it can otherwise, and CDC then stops with "binlog not found". DMS asks for at
#: least 24 hours (https://docs.aws.amazon.com/dms/latest/userguide/CHAP_Source.MySQL.html).
RDS_CONFIGURATION_PROCEDURE = ("mysql", "rds_set_configuration")
BINLOG_RETENTION_HOURS = 24


def set_binlog_retention(engine: Any) -> int | None:
    """`CALL mysql.rds_set_configuration('binlog retention hours', 24)` on RDS for MySQL; the hours
    set, or None where there is no such procedure (PostgreSQL, SQLite, a MySQL outside RDS)."""
    from sqlalchemy import text

    if engine.dialect.name != "mysql":
        return None
    schema, name = RDS_CONFIGURATION_PROCEDURE
    with engine.begin() as conn:
        exists = conn.execute(
            text(
                "select count(*) from information_schema.routines "
                "where routine_schema = :schema and routine_name = :name and routine_type = 'PROCEDURE'"
            ),
            {"schema": schema, "name": name},
        ).scalar_one()
        if not exists:
            return None
        conn.execute(text(f"CALL {schema}.{name}('binlog retention hours', :hours)"), {"hours": BINLOG_RETENTION_HOURS})
    return BINLOG_RETENTION_HOURS


def _table(engine: Any, name: str, columns: list[str], *, create: bool) -> Any:
    from sqlalchemy import BigInteger, Column, MetaData, Table, Text
    from sqlalchemy.schema import CreateSchema

    schema = source_schema(engine)
    metadata = MetaData(schema=schema)
    if not create:
        return Table(name, metadata, autoload_with=engine)
    if schema is not None:
        with engine.begin() as conn:
            conn.execute(CreateSchema(schema, if_not_exists=True))
    cols: list[Column[Any]] = [Column("id", BigInteger, primary_key=True, autoincrement=False)]
    cols += [Column(c, Text) for c in columns if c != "id"]
    table = Table(name, metadata, *cols)
    metadata.create_all(engine, checkfirst=True)
    return table


def handle(event: dict[str, Any], engine: Any) -> dict[str, Any]:
    """The handler's work given an SQLAlchemy engine (tests pass one for a local database)."""
    from sqlalchemy import delete, func, insert, select

    mode = event.get("mode", "insert")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    name = str(event["table"])
    columns = [str(c) for c in event.get("columns") or []]
    for n in [name, *columns]:
        if not NAME.match(n):
            raise ValueError(f"invalid identifier {n!r}")
    rows = [list(r) for r in event.get("rows") or []]
    table = _table(engine, name, columns, create=mode == "create")
    if mode == "create":
        with engine.connect() as conn:
            count = conn.execute(select(func.count()).select_from(table)).scalar_one()
        # Seeding comes before replication starts: keep the binlog DMS is about to read.
        return {"table": name, "created": True, "count": count, "binlog_retention_hours": set_binlog_retention(engine)}
    if mode == "count":
        with engine.connect() as conn:
            return {"table": name, "count": conn.execute(select(func.count()).select_from(table)).scalar_one()}
    if mode == "select_ids":
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(select(table.c.id).order_by(table.c.id))]
        return {"table": name, "count": len(ids), "ids": ids}
    records = [dict(zip(columns, r, strict=True)) for r in rows]
    with engine.begin() as conn:
        if mode == "delete":
            ids = [rec["id"] for rec in records]
            result = conn.execute(delete(table).where(table.c.id.in_(ids))) if ids else None
            return {"table": name, "deleted": result.rowcount if result is not None else 0}
        if mode == "upsert" and records:
            # Portable upsert: delete the ids present in the batch, then insert the batch.
            conn.execute(delete(table).where(table.c.id.in_([rec["id"] for rec in records])))
        if records:
            conn.execute(insert(table), records)  # one executemany
    return {"table": name, ("upserted" if mode == "upsert" else "inserted"): len(records)}


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    engine = _engine(_secret())
    try:
        return handle(event, engine)
    finally:
        engine.dispose()
