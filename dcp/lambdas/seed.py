"""Lambda (in the VPC): write rows into the private source database, the only way in (RDS is never public).

Event: {"table": str, "columns": [str], "rows": [[...]], "mode": "insert" | "upsert" | "delete" |
"create" | "count" | "select_ids" | "stage" | "commit" | "abort"}. `create` makes the table (an `id`
BIGINT primary key and the columns as text) if it does not exist; rows carry `id` as their first
column wherever ids matter. On PostgreSQL every mode works on `<dbname>.<table>` (see `source_schema`).
Returns counts, never row values; an error's message names the mode and table, never a value.

All or nothing across invocations: a run's rows travel in many invokes (the 6 MB payload limit),
and one database transaction cannot span invokes. So `dcp seed` writes into a staging table per
table (`stage`, then `insert` / `upsert` / `delete` with `"staged": true`), and `commit` applies
every staged table in ONE transaction (`"replace": true` empties each table first, else the staged
ids are replaced or deleted); `abort` drops the staging tables. The source tables change only in
that one transaction: a run that fails before or during it leaves them as they were.
`create` also sets RDS for MySQL's binlog retention (see set_binlog_retention).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

MODES = ("insert", "upsert", "delete", "create", "count", "select_ids", "stage", "commit", "abort")
STAGE_SUFFIX = "__dcp_stage"
STAGE_OP = "dcp_op"  # I: the row replaces (or adds) its id; D: the id is deleted


class SeedError(ValueError):
    """A seed request failed; the message names the mode and table, never a row value."""


NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _secret() -> dict[str, Any]:
    import boto3

    value = boto3.client("secretsmanager").get_secret_value(SecretId=os.environ["DB_SECRET_ARN"])
    return dict(json.loads(value["SecretString"]))


def _engine(secret: dict[str, Any]) -> Any:
    from sqlalchemy import create_engine

    try:
        from dburl import connect_args, resolve_host, sqlalchemy_url  # as packaged in the zip
    except ImportError:
        from dcp.lambdas.dburl import connect_args, resolve_host, sqlalchemy_url
    secret = resolve_host(secret)  # the sandbox's own endpoint names; on AWS the secret as it is
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
        raise SeedError(f"invalid database name {name!r} for the source schema")
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


def _table(engine: Any, name: str, columns: list[str], *, create: bool, stage: bool = False) -> Any:
    """The source table `name` (created if asked), or with `stage` its fresh, empty staging table."""
    from sqlalchemy import BigInteger, Column, MetaData, String, Table, Text
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
    if not stage:
        return table
    staged = Table(
        name + STAGE_SUFFIX,
        metadata,
        *[Column(c.name, c.type, primary_key=c.primary_key, autoincrement=False) for c in table.columns],
        Column(STAGE_OP, String(1), nullable=False),
    )
    staged.drop(engine, checkfirst=True)
    staged.create(engine)
    return staged


def _commit(engine: Any, names: list[str], replace: bool) -> dict[str, Any]:
    """Apply every staged table in one transaction, then drop the staging tables."""
    from sqlalchemy import delete, func, insert, select

    out: dict[str, Any] = {}
    pairs = [(_table(engine, n, [], create=False), _table(engine, n + STAGE_SUFFIX, [], create=False)) for n in names]
    with engine.begin() as conn:  # one transaction across tables: all or nothing
        for table, staged in pairs:
            if replace:
                removed = conn.execute(delete(table))
            else:
                removed = conn.execute(delete(table).where(table.c.id.in_(select(staged.c.id))))
            columns = [c.name for c in table.columns]
            rows = select(*[staged.c[c] for c in columns]).where(staged.c[STAGE_OP] == "I")
            added = conn.execute(insert(table).from_select(columns, rows))
            out[table.name] = {"deleted": removed.rowcount, "inserted": added.rowcount}
        for table, _ in pairs:
            out[table.name]["count"] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    _drop_stages(engine, names)
    return {"tables": out}


def _drop_stages(engine: Any, names: list[str]) -> None:
    from sqlalchemy import MetaData, Table

    metadata = MetaData(schema=source_schema(engine))
    for name in names:
        Table(name + STAGE_SUFFIX, metadata).drop(engine, checkfirst=True)


def handle(event: dict[str, Any], engine: Any) -> dict[str, Any]:
    """The handler's work given an SQLAlchemy engine (tests pass one for a local database)."""
    from sqlalchemy import delete, func, insert, select

    mode = event.get("mode", "insert")
    if mode not in MODES:
        raise SeedError(f"mode must be one of {', '.join(MODES)}")
    if mode in ("commit", "abort"):
        names = [str(n) for n in event.get("tables") or []]
        for n in names:
            if not NAME.match(n):
                raise SeedError(f"invalid identifier {n!r}")
        if mode == "abort":
            _drop_stages(engine, names)
            return {"tables": names, "aborted": True}
        return _commit(engine, names, bool(event.get("replace")))
    name = str(event["table"])
    columns = [str(c) for c in event.get("columns") or []]
    for n in [name, *columns]:
        if not NAME.match(n):
            raise SeedError(f"invalid identifier {n!r}")
    rows = [list(r) for r in event.get("rows") or []]
    staged = bool(event.get("staged"))
    if mode == "stage":
        _table(engine, name, columns, create=True, stage=True)
        mode = "create"
    table = _table(engine, name + STAGE_SUFFIX if staged else name, columns, create=mode == "create")
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
    if staged:
        for rec in records:
            rec[STAGE_OP] = "D" if mode == "delete" else "I"
        with engine.begin() as conn:
            if records:
                conn.execute(insert(table), records)
        return {"table": name, "staged": len(records)}
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
    try:
        from dcp_errors import describe_error  # as packaged in the zip
    except ImportError:
        from dcp.errors import describe_error
    engine = _engine(_secret())
    try:
        return handle(event, engine)
    except SeedError:
        raise
    except Exception as exc:
        # SQLAlchemy's message carries the statement's parameters (row values): never raise it as is
        subject = f"seed {event.get('mode')} on table {event.get('table') or event.get('tables')}"
        raise SeedError(describe_error(exc, subject=subject)) from None
    finally:
        engine.dispose()
